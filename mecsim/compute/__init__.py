"""Compute resources every system builds from: processors, edge servers with VMs, memory, the cloud."""
from mecsim.compute.cloud import Cloud
from mecsim.compute.memory import memory_pool
from mecsim.compute.processor import processor
from mecsim.compute.server import EdgeServer
from mecsim.compute.spec import CPU_DISCIPLINES, CloudSpec, CpuSpec, ServerSpec

__all__ = ["CPU_DISCIPLINES", "Cloud", "CloudSpec", "CpuSpec", "EdgeServer", "ServerSpec", "memory_pool",
           "processor"]
