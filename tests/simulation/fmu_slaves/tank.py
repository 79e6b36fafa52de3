"""A tank for kgtwin's FMU tests: A dL/dt = inflow - outflow, inputs held over the step."""

from pythonfmu import Fmi2Causality, Fmi2Slave, Fmi2Variability, Real


class Tank(Fmi2Slave):
    author = "kgtwin tests"
    description = "Tank: level from the volume balance"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.area = 2.0
        self.level0 = 1.0
        self.outflow = 0.0
        self.inflow = 0.0
        self.level = 1.0
        tunable = {"causality": Fmi2Causality.parameter, "variability": Fmi2Variability.tunable}
        self.register_variable(Real("area", description="[m2]", **tunable))
        self.register_variable(Real("level0", description="initial level [m]", **tunable))
        self.register_variable(Real("outflow", description="[m3/s]", **tunable))
        self.register_variable(Real("inflow", causality=Fmi2Causality.input, description="[m3/s]"))
        self.register_variable(Real("level", causality=Fmi2Causality.output, description="[m]"))

    def exit_initialization_mode(self):
        self.level = self.level0

    def do_step(self, current_time, step_size):
        self.level += step_size * (self.inflow - self.outflow) / self.area
        return True
