"""Gymnasium environments over the mecsim systems. Importing this module registers them."""
from gymnasium.envs.registration import register, registry

from mecsim.envs.dag_offload import DagOffloadEnv
from mecsim.envs.service_management import ServiceManagementEnv
from mecsim.envs.edge_tuning import EdgeTuningEnv, EdgeTuningParallelEnv

__all__ = ["DagOffloadEnv"]
__all__ += ["EdgeTuningEnv", "EdgeTuningParallelEnv"]
__all__ += ["ServiceManagementEnv"]

if "mecsim/DagOffload-v0" not in registry:
    register(id="mecsim/DagOffload-v0", entry_point="mecsim.envs.dag_offload:DagOffloadEnv")
if "mecsim/EdgeTuning-v0" not in registry:
    register(id="mecsim/EdgeTuning-v0", entry_point="mecsim.envs.edge_tuning:EdgeTuningEnv")
if "mecsim/ServiceManagement-v0" not in registry:
    register(id="mecsim/ServiceManagement-v0", entry_point="mecsim.envs.service_management:ServiceManagementEnv")
