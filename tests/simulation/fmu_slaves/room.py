"""A first-order thermal room (RC) for kgtwin's FMU tests, built into an FMU by pythonfmu.

C dT/dt = UA (T_out - T) + Q. Over a step the inputs are held and the equation is solved
exactly: T(t + h) = T_eq + (T(t) - T_eq) exp(-h UA / C), T_eq = T_out + Q / UA.
"""

import math

from pythonfmu import DefaultExperiment, Fmi2Causality, Fmi2Slave, Fmi2Variability, Real


class Room(Fmi2Slave):
    author = "kgtwin tests"
    description = "First-order RC thermal room"
    default_experiment = DefaultExperiment(start_time=0.0, stop_time=86400.0, step_size=60.0)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.UA = 200.0
        self.C = 2.0e6
        self.T0 = 20.0
        self.T_out = 5.0
        self.Q = 0.0
        self.T = 20.0
        tunable = {"causality": Fmi2Causality.parameter, "variability": Fmi2Variability.tunable}
        self.register_variable(Real("UA", description="envelope conductance [W/K]", **tunable))
        self.register_variable(Real("C", description="thermal capacitance [J/K]", **tunable))
        self.register_variable(Real("T0", description="initial temperature [degC]", **tunable))
        self.register_variable(Real("T_out", causality=Fmi2Causality.input, description="outdoor [degC]"))
        self.register_variable(Real("Q", causality=Fmi2Causality.input, description="heating [W]"))
        self.register_variable(Real("T", causality=Fmi2Causality.output, description="room [degC]"))

    def exit_initialization_mode(self):
        self.T = self.T0

    def do_step(self, current_time, step_size):
        equilibrium = self.T_out + self.Q / self.UA
        self.T = equilibrium + (self.T - equilibrium) * math.exp(-step_size * self.UA / self.C)
        return True
