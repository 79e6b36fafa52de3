"""A pump for kgtwin's FMU tests: flow = q_max * speed, the speed held over the step."""

from pythonfmu import Fmi2Causality, Fmi2Slave, Fmi2Variability, Real


class Pump(Fmi2Slave):
    author = "kgtwin tests"
    description = "Pump: volume flow proportional to speed"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.q_max = 0.01
        self.speed = 0.0
        self.flow = 0.0
        self.register_variable(
            Real(
                "q_max",
                causality=Fmi2Causality.parameter,
                variability=Fmi2Variability.tunable,
                description="flow at full speed [m3/s]",
            )
        )
        self.register_variable(Real("speed", causality=Fmi2Causality.input, description="0..1"))
        self.register_variable(Real("flow", causality=Fmi2Causality.output, description="[m3/s]"))

    def do_step(self, current_time, step_size):
        self.flow = self.q_max * self.speed
        return True
