"""YAML → :class:`DagScenario`, every key checked where it is read.

Errors cite ``FILE:LINE: key.path: what must hold, got VALUE``. Paths inside the scenario (DAG
folders) are relative to the scenario file's folder; ``dataset:NAME/FOLDER`` names a folder of a data
set shipped with mecsim (:mod:`mecsim.workload.datasets`). Units are SI (see ``spec.py``).
"""
from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Sequence, cast

from mecsim.compute.spec import CPU_DISCIPLINES, CloudSpec, CpuSpec, ServerSpec
from mecsim.errors import ConfigError
from mecsim.energy import read_energy
from mecsim.mobility import read_trace
from mecsim.net.handover import HandoverSpec
from mecsim.net.pathloss import Condition
from mecsim.net.spec import CHANNEL_SHARING, ChannelSpec, FadingSpec, PathLossSpec, RateSpec
from mecsim.scenario.checks import Node, must, suggest
from mecsim.scenario.distributions import Constant, read_distribution
from mecsim.scenario.source import Document
from mecsim.systems.dag_offloading.spec import (DECISIONS, AccessPointSpec, ArrivalSpec, CompatSpec, DagScenario,
                                                DagSource, DagWorkloadSpec, DeviceSpec, LinkSpec, MobilitySpec)
from mecsim.workload import datasets
from mecsim.workload.daggen import DaggenParams
from mecsim.workload.gv import AttributeMap

__all__ = ["load"]

# The keys each model variant reads (besides the key naming the model): Node.variant rejects the rest.
_MOBILITY = {"static": (), "random_waypoint": ("area", "speed_mps", "pause_s"), "trace": ("file",)}
_RATE = {"fixed": ("bps",),
         "shannon": ("bandwidth_hz", "tx_power_dbm", "noise_dbm", "noise_density_dbm_hz", "noise_figure_db",
                     "pathloss", "fading")}
_PATHLOSS = {"free_space": (), "log_distance": ("exponent", "reference_m"),
             "3gpp_rma": ("condition", "h_bs", "h_ut", "street_width", "building_height")}
_FADING = {"none": (), "rayleigh": ("coherence_s",)}
_VMS = {"dedicated": ("vm_speed_hz",), "shared": ()}
_AP = "an access_points[].name"
_ATTR = "a node attribute of the DAG files (generated DAGs: size, expect_size, alpha)"
_ARRIVAL = {"back_to_back": (), "poisson": ("rate_hz",), "list": ("times_s",)}


def load(doc: Document, base: Path) -> DagScenario:
    root = Node(doc).allow("name", "seed", "system", "horizon_s", "controller", "controller_params", "decisions",
                           "devices", "access_points", "servers", "cloud", "links", "workload", "compat",
                           "training", "energy")
    access_points = tuple(_access_point(n) for n in root.items("access_points", min_len=1))
    ap_names = [ap.name for ap in access_points]
    must(len(set(ap_names)) == len(ap_names), root, "access_points", f"names must be unique, got {ap_names}")
    devices = _devices(root.mapping("devices"), ap_names, base)
    servers = tuple(_server(n, ap_names) for n in root.items("servers", default=[]))
    names = [s.name for s in servers]
    must(len(set(names)) == len(names), root, "servers", f"names must be unique, got {names}")
    cloud = _cloud(root.mapping("cloud")) if root.has("cloud") and root.child("cloud").value is not None else None
    must(bool(servers) or cloud is not None, root, "servers", "must list at least one server when there is no cloud "
         "(every task could only run locally). Hint: keep a server and run --controller local, got []")
    links = tuple(_link(n, ap_names) for n in root.items("links", default=[]))
    compat = root.mapping("compat", default={}).allow("entry_upload_bypass")
    controller_params = root.mapping("controller_params", default={})
    workload = _workload(root.mapping("workload"), base)
    horizon = root.float("horizon_s", None, min=0, min_open=True, allow_none=True)
    if devices.mobility.handover.rule != "none":
        mob = root.mapping("devices").mapping("mobility")
        must(horizon is not None, mob, "handover", "needs horizon_s (its checks never end), got null")
        ordered = [ap.name for ap in access_points
                   if "schedule_order" in (ap.uplink.sharing, ap.downlink.sharing)]
        must(not ordered, mob, "handover", "cannot move devices between schedule_order channels (their "
             f"order is reserved per channel at decision time), got access points {ordered}")
    must(workload.arrival.process != "poisson" or horizon is not None or workload.apps_per_device is not None,
         root, "horizon_s", "is required with Poisson arrivals unless workload.apps_per_device is set, got null")
    return DagScenario(
        name=root.str("name"),
        file=doc.file,
        seed=root.int("seed", 0, min=0),
        system="dag_offloading",
        devices=devices,
        access_points=access_points,
        servers=servers,
        workload=workload,
        controller=root.str("controller", "local"),
        controller_params=dict(controller_params.value or {}),
        decisions=root.str("decisions", "at_arrival", choices=DECISIONS),
        cloud=cloud,
        links=links,
        compat=CompatSpec(compat.bool("entry_upload_bypass", False)),
        horizon_s=horizon,
        energy=read_energy(root, ("kappa", "idle_w", "tx_w", "rx_w", "battery_j")),
    )


def _cpu(node: Node, disciplines: Sequence[str] = CPU_DISCIPLINES) -> CpuSpec:
    node.allow("cores", "speed_hz", "discipline")
    return CpuSpec(node.int("cores", 1, min=1), node.float("speed_hz", min=0, min_open=True),
                   node.str("discipline", "fifo", choices=disciplines))


def _devices(node: Node, ap_names: list[str], base: Path) -> DeviceSpec:
    node.allow("count", "cpu", "position", "mobility", "access_point")
    pos = node.mapping("position", default={}).allow("x", "y")
    mob = node.mapping("mobility", default={})
    model = mob.variant("model", _MOBILITY, "static", common=("handover",))
    area = ((0.0, 0.0), (1000.0, 1000.0))
    speed = (1.0, 2.0)
    if model == "random_waypoint":
        corners = mob.items("area", min_len=2)
        must(len(corners) == 2, mob, "area", f"must be [[x0, y0], [x1, y1]], got {mob.child('area').value}")
        area = (corners[0].float_list(None, length=2), corners[1].float_list(None, length=2))
        must(area[0][0] <= area[1][0] and area[0][1] <= area[1][1], mob, "area",
             f"must have x0 <= x1 and y0 <= y1, got {mob.child('area').value}")
        speed = mob.float_list("speed_mps", [1.0, 2.0], length=2, min=0)
        must(0 < speed[0] <= speed[1], mob, "speed_mps", f"must be [vmin, vmax] with 0 < vmin <= vmax, got {list(speed)}")
    access_point = node.str("access_point", "nearest", choices=("nearest", *ap_names), refers=f"nearest or {_AP}")
    count = node.int("count", 1, min=1)
    trace = {}
    if model == "trace":
        path = (base / mob.str("file")).resolve()
        must(path.is_file(), mob, "file", f"must be an existing CSV file time_s,device,x,y, got "
             f"{mob.str('file')!r} (resolved to {path}). Hint: relative paths start at the scenario file's folder")
        try:
            trace = {d: tuple(samples) for d, samples in read_trace(path, count).items()}
        except ValueError as exc:
            raise mob.error(str(exc), "file") from None
    ho = mob.mapping("handover", default={}).allow("rule", "hysteresis_db", "interval_s")
    handover = HandoverSpec(ho.str("rule", "none", choices=("none", "strongest")),
                            ho.float("hysteresis_db", 3.0, min=0),
                            ho.float("interval_s", 1.0, min=0, min_open=True))
    return DeviceSpec(
        count=count,
        cpu=_cpu(node.mapping("cpu")),
        x=read_distribution(pos, "x", Constant(0.0)),
        y=read_distribution(pos, "y", Constant(0.0)),
        mobility=MobilitySpec(model, area, speed, mob.float("pause_s", 0.0, min=0), trace, handover),
        access_point=access_point,
    )


def _rate(node: Node) -> RateSpec:
    if node.variant("model", _RATE) == "fixed":
        return RateSpec("fixed", bps=node.float("bps", min=0, min_open=True))
    pl = node.mapping("pathloss")
    pl_model = pl.variant("model", _PATHLOSS, common=("frequency_hz",))
    freq = pl.float("frequency_hz", min=0, min_open=True)
    if pl_model == "3gpp_rma":
        must(0.5e9 <= freq <= 30e9, pl, "frequency_hz",
             f"must be in [5e8, 3e10] Hz for 3gpp_rma (TR 38.901), got {freq:g}. Hint: the unit is Hz, not GHz")
    fad = node.mapping("fading", default={})
    fad_model = fad.variant("model", _FADING, "none")
    return RateSpec(
        "shannon",
        bandwidth_hz=node.float("bandwidth_hz", min=0, min_open=True),
        tx_power_dbm=node.float("tx_power_dbm"),
        noise_dbm=node.float("noise_dbm", None, allow_none=True),
        noise_density_dbm_hz=node.float("noise_density_dbm_hz", -174.0),
        noise_figure_db=node.float("noise_figure_db", 0.0, min=0),
        pathloss=PathLossSpec(
            pl_model, freq,
            exponent=pl.float("exponent", 3.0, min=0, min_open=True),
            reference_m=pl.float("reference_m", 1.0, min=0, min_open=True),
            condition=cast(Condition, pl.str("condition", "expected", choices=("los", "nlos", "expected", "random"))),
            h_bs=pl.float("h_bs", 35.0, min=0, min_open=True),
            h_ut=pl.float("h_ut", 1.5, min=0, min_open=True),
            street_width=pl.float("street_width", 20.0, min=0, min_open=True),
            building_height=pl.float("building_height", 5.0, min=0, min_open=True)),
        fading=FadingSpec(fad_model,
                          fad.float("coherence_s", 0.01, min=0, min_open=True)),
    )


def _channel(node: Node) -> ChannelSpec:
    node.allow("rate", "sharing", "packet_bytes", "update_s")
    packet = node.int("packet_bytes", None, min=1) if node.child("packet_bytes").value is not None else None
    return ChannelSpec(_rate(node.mapping("rate")), node.str("sharing", "fifo", choices=CHANNEL_SHARING),
                       packet, node.float("update_s", 1.0, min=0, min_open=True))


def _access_point(node: Node) -> AccessPointSpec:
    node.allow("name", "position", "uplink", "downlink")
    return AccessPointSpec(node.str("name"), node.float_list("position", [0.0, 0.0], length=2),
                           _channel(node.mapping("uplink")), _channel(node.mapping("downlink")))


def _server(node: Node, ap_names: list[str]) -> ServerSpec:
    vms = node.variant("vms", _VMS, "dedicated", common=("name", "access_point", "cores", "speed_hz",
                                                         "discipline", "memory_bytes", "memory_policy"))
    return ServerSpec(
        name=node.str("name"),
        access_point=node.str("access_point", ap_names[0], choices=ap_names, refers=_AP),
        cores=node.int("cores", 1, min=1),
        speed_hz=node.float("speed_hz", min=0, min_open=True),
        discipline=node.str("discipline", "fifo", choices=CPU_DISCIPLINES),
        vms=vms,
        vm_speed_hz=node.float("vm_speed_hz", None, min=0, min_open=True, allow_none=True),
        memory_bytes=node.float("memory_bytes", None, min=0, min_open=True, allow_none=True),
        memory_policy=node.str("memory_policy", "wait", choices=("wait", "drop")),
    )


def _cloud(node: Node) -> CloudSpec:
    node.allow("cores", "speed_hz", "rate_bps", "delay_s", "discipline")
    return CloudSpec(node.int("cores", 1, min=1), node.float("speed_hz", min=0, min_open=True),
                     node.float("rate_bps", min=0, min_open=True), node.float("delay_s", 0.0, min=0),
                     node.str("discipline", "fifo", choices=CPU_DISCIPLINES))


def _link(node: Node, ap_names: list[str]) -> LinkSpec:
    node.allow("a", "b", "rate_bps", "delay_s")
    link = LinkSpec(node.str("a", choices=ap_names, refers=_AP), node.str("b", choices=ap_names, refers=_AP),
                    node.float("rate_bps", min=0, min_open=True), node.float("delay_s", 0.0, min=0))
    must(link.a != link.b, node, "b", f"must differ from a, got {link.b!r}")
    return link


def _dataset(dags: Node, attributes: AttributeMap) -> DagSource:
    """``folder: dataset:NAME/FOLDER``: a folder of a data set shipped in mecsim/data/ (see its README)."""
    ref = datasets.parse_ref(dags.str("folder"))
    assert ref is not None                       # the caller saw the dataset: prefix
    name, folder = ref
    pattern = dags.str("pattern", "*.gv")
    known = sorted(datasets.DATASETS)
    if name not in known:
        close = suggest(name, known)
        hint = f"; did you mean {datasets.PREFIX}{close}/...?" if close else ""
        raise dags.error(f"must name a data set shipped with mecsim ({', '.join(known)}) as "
                         f"{datasets.PREFIX}NAME/FOLDER, got {name!r}{hint}", "folder")
    folders = datasets.folders(name)
    if folder not in folders:
        # a folder's last part alone is the likeliest slip (offload_random20_8 for .../offload_random20_8)
        close = next((f for f in folders if posixpath.basename(f) == folder), None) or suggest(folder, folders)
        hint = f"; did you mean {datasets.PREFIX}{name}/{close}?" if close else ""
        raise dags.error(f"must be a folder of data set {name} (listed in mecsim/data/README.md), "
                         f"got {folder!r}{hint}", "folder")
    must(bool(datasets.files(name, folder, pattern)), dags, "pattern",
         f"matches no file in {datasets.PREFIX}{name}/{folder}, got {pattern!r}")
    return DagSource("dataset", dataset=(name, folder), pattern=pattern, attributes=attributes)


def _workload(node: Node, base: Path) -> DagWorkloadSpec:
    node.allow("dags", "arrival", "apps_per_device", "pick", "order", "task_memory_bytes")
    dags = node.mapping("dags").allow("folder", "pattern", "attributes", "generate")
    must(dags.has("folder") != dags.has("generate"), node, "dags",
         "must have exactly one of 'folder' or 'generate'")
    # the source is named by its key, not by a model key (Node.variant): the same rule, written out
    must(not (dags.has("generate") and dags.has("pattern")), dags, "pattern",
         "is not used by source 'generate', only by 'folder' (allowed: attributes, generate)")
    at = dags.mapping("attributes", default={}).allow(
        "cycles", "cycles_factor", "up_bytes", "up_factor", "down_bytes", "down_factor")
    names = None if dags.has("folder") else ("size", "expect_size", "alpha")   # what the generator writes
    attributes = AttributeMap(at.str("cycles", "size", choices=names, refers=_ATTR),
                              at.float("cycles_factor", 1.0, min=0, min_open=True),
                              at.str("up_bytes", "size", choices=names, refers=_ATTR), at.float("up_factor", 1.0, min=0),
                              at.str("down_bytes", "expect_size", choices=names, refers=_ATTR),
                              at.float("down_factor", 1.0, min=0))
    if dags.has("folder") and datasets.parse_ref(dags.str("folder")):
        source = _dataset(dags, attributes)
    elif dags.has("folder"):
        folder = (base / dags.str("folder")).resolve()
        pattern = dags.str("pattern", "*.gv")
        must(folder.is_dir(), dags, "folder", f"must be an existing folder, got {dags.str('folder')!r} "
             f"(resolved to {folder}). Hint: relative paths start at the scenario file's folder")
        must(any(folder.glob(pattern)), dags, "pattern", f"matches no file in {folder}, got {pattern!r}")
        source = DagSource("folder", folder=folder, pattern=pattern, attributes=attributes)
    else:
        gen = dags.mapping("generate").allow("n", "fat", "density", "regularity", "jump", "ccr",
                                             "mindata", "maxdata", "count")
        try:
            params = DaggenParams(n=gen.int("n", min=1), fat=gen.float("fat"), density=gen.float("density"),
                                  regularity=gen.float("regularity", 0.5), jump=gen.int("jump", 1, min=1),
                                  ccr=gen.float("ccr"), mindata=gen.int("mindata", 5242880, min=1),
                                  maxdata=gen.int("maxdata", 52428800, min=1))
        except ConfigError:         # a knob read above: its message already names it
            raise
        except ValueError as exc:   # daggen's own cross-checks (fat in (0, 1], mindata <= maxdata, ...)
            key, _, message = str(exc).partition(": ")
            raise gen.error(message, key if gen.has(key) else None) from None
        source = DagSource("generate", generator=params, count=gen.int("count", 100, min=1),
                           attributes=attributes)
    arr = node.mapping("arrival", default={})
    process = arr.variant("process", _ARRIVAL, "back_to_back")
    arrival = ArrivalSpec(
        process,
        rate_hz=arr.float("rate_hz", min=0, min_open=True) if process == "poisson" else None,
        times_s=tuple(arr.float_list("times_s", min=0)) if process == "list" else ())
    if process == "list":
        must(list(arrival.times_s) == sorted(arrival.times_s), arr, "times_s",
             f"must be non-decreasing, got {list(arrival.times_s)}")
    memory = read_distribution(node, "task_memory_bytes", None, min=0) \
        if node.has("task_memory_bytes") and node.child("task_memory_bytes").value is not None else None
    return DagWorkloadSpec(
        source=source, arrival=arrival,
        apps_per_device=node.int("apps_per_device", None, min=1) if node.child("apps_per_device").value is not None else None,
        pick=node.str("pick", "sequential", choices=("sequential", "random")),
        order=node.str("order", "auto", choices=("auto", "rank", "recursive_rank", "id")),
        task_memory_bytes=memory)
