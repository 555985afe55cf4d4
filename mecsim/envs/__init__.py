"""Gymnasium environments over the mecsim systems. Importing this module registers them."""
from gymnasium.envs.registration import register, registry

from mecsim.envs.dag_offload import DagOffloadEnv

__all__ = ["DagOffloadEnv"]

if "mecsim/DagOffload-v0" not in registry:
    register(id="mecsim/DagOffload-v0", entry_point="mecsim.envs.dag_offload:DagOffloadEnv")
