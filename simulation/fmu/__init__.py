"""Physics-based virtual models: FMUs (FMI 2.0/3.0 co-simulation, through fmpy) bound to twins.

``archive`` inspects and checks an FMU; ``store`` keeps files content-addressed;
``library`` pairs them with their reference nodes (``graph.fmus``); ``bindings`` says where
inputs and parameters come from; ``master`` steps coupled instances; ``runs`` prepares
batch runs of the ``fmu`` simulation model (``simulation.models.fmu``); ``shadow`` runs a
live shadow of one twin under a lease.

Modules are imported where used (fmpy loads lxml and ctypes machinery a process without
FMUs does not need).
"""
