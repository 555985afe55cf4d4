"""A one-line meaning for every scenario key, for docs/scenario.md and ``mecsim schema``.

The loaders say how a key is read (type, default, bounds); what it is, in the user's terms, is
written here once. A meaning is keyed by the key's name or, where one name means different things,
by a longer path suffix (``devices.count``, ``generate.count``, ``links[].rate_bps``: ``[]`` is a
list item, as in the document), and sits in :data:`COMMON` or in one system's table of :data:`SYSTEMS`.
:func:`meaning` picks the longest suffix that matches and, between two of one length, the system's.
Papers are named as in README (MRLCO, MRLATO, PEARL-DT, HMPPO), with section or equation.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

__all__ = ["COMMON", "SYSTEMS", "entry", "meaning"]

COMMON: Mapping[str, str] = {
    # -- every system ---------------------------------------------------------------------------
    "controller": "who takes the decisions: a registered name (`mecsim controllers`) or `module:Class`",
    "controller_params": "keyword arguments of the controller's constructor, checked against its annotations",
    "horizon_s": "simulated time at which the run stops; null: when the workload is done",
    "name": "the scenario's name (outputs go to out/NAME by default)",
    "seed": "seed of the run's named random streams: same seed, byte-identical outputs",
    "system": "which system the file describes (dag_offloading when absent)",
    # -- radio, read by more than one system ----------------------------------------------------
    "coherence_s": "Rayleigh block length: a link's fading gain holds for one block, then is redrawn",
    "noise_density_dbm_hz": "thermal noise power spectral density at the receiver (-174 at 290 K)",
    # -- 3GPP TR 38.901 RMa path loss (Table 7.4.1-1, LOS probability §7.4.2) -------------------
    "building_height": "average building height h, m (TR 38.901 RMa: 5-50)",
    "condition": "line of sight: los, nlos, expected (blend weighted by P_LOS, TR 38.901 §7.4.2), random (LOS drawn with P_LOS)",
    "h_bs": "access point (base station) antenna height, m (TR 38.901 RMa: 10-150)",
    "h_ut": "device (user terminal) antenna height, m (TR 38.901 RMa: 1-10)",
    "pathloss.frequency_hz": "carrier frequency of the path-loss model",
    "street_width": "average street width W, m (TR 38.901 RMa: 5-50)",
    # -- energy (mecsim.energy; each system reads the keys its activities use) ---------------------
    "battery_j": "battery capacity; null: mains-powered. An empty device's remaining work is dropped",
    "device.idle_w": "device power while its CPU is idle (on top of radio power)",
    "energy": "energy accounting (mecsim/energy.py); absent or null: none, and no energy columns",
    "energy.device": "what each device (ED, UE) draws",
    "energy.server": "the edge servers' power, linear from idle to peak in their utilisation (CloudSim)",
    "kappa": "effective switched capacitance κ, J/(cycle·Hz²): a local task costs κ·f²·cycles (Mao et al., JSAC 2016: 1e-28)",
    "rx_w": "device power while receiving a download",
    "server.idle_w": "edge server power at zero utilisation (CloudSim's HP ML110 G4: 86 W)",
    "server.peak_w": "edge server power at full utilisation (CloudSim's HP ML110 G4: 117 W)",
    "train_w": "UE power while it fine-tunes locally",
    "tx_w": "device transmit power on channels whose rate model gives no tx_power_dbm (fixed rates)",
}
"""Meanings read by any system (a system's own table comes first at equal suffix length)."""

_DAG: Mapping[str, str] = {
    # -- access points and their channels (MRLCO §3) --------------------------------------------
    "access_points": "the access points, each with a radio uplink and downlink",
    "access_points[].name": "the access point's name, which devices, servers and links refer to",
    "bandwidth_hz": "channel bandwidth B of the Shannon rate B·log2(1 + SNR), split among FDMA users",
    "bps": "the channel's constant bit rate, bit/s, before sharing",
    "downlink": "the access point -> device channel (results of offloaded tasks)",
    "exponent": "path-loss exponent n of the log-distance model (free space: 2)",
    "fading.model": "small-scale fading: none, or rayleigh block fading (a gain per device, redrawn every block)",
    "noise_dbm": "total noise power over the bandwidth; null: noise density + noise figure over it",
    "noise_figure_db": "receiver noise figure, added to the thermal noise",
    "packet_bytes": "packet size messages are split into, so transfers of several devices interleave; null: whole",
    "pathloss.model": "free_space (Friis), log_distance, or 3gpp_rma (3GPP TR 38.901 rural macro)",
    "position": "the access point's [x, y], m",
    "position[]": "a coordinate, m: x, then y",
    "rate": "how the channel's bit rate is found",
    "rate.fading": "small-scale fading of the channel",
    "rate.model": "fixed: a constant bit rate; shannon: from bandwidth, power, path loss, fading and noise",
    "rate.pathloss": "path loss from the device-access point distance",
    "reference_m": "reference distance d0 of the log-distance model: free-space loss up to it, m",
    "sharing": "how transfers share it: fifo queue, schedule_order (MRLCO eqs. 5-7), parallel, fdma (equal bands)",
    "tx_power_dbm": "transmit power: the device's on the uplink, the access point's on the downlink",
    "update_s": "how often a moving device's distance, and so its rate, is re-read",
    "uplink": "the device -> access point channel (inputs of offloaded tasks)",
    # -- devices --------------------------------------------------------------------------------
    "area": "[[x0, y0], [x1, y1]]: the rectangle random-waypoint devices move in, m",
    "area[]": "a corner of the area, m: [x0, y0], then [x1, y1]",
    "area[][]": "a coordinate of a corner, m",
    "devices": "the user devices, all alike: how many, their CPU, where they are and how they move",
    "devices.access_point": "the access point a device attaches to: the nearest at the start, or the one named",
    "devices.count": "number of devices",
    "devices.cpu": "each device's local CPU (action 0 runs a task there)",
    "devices.position": "where each device starts (static devices stay there; trace devices start on their trace)",
    "file": "CSV of time_s,device,x,y samples (m), relative to the scenario's folder; straight lines between them",
    "handover": "re-attaching moving devices to the access point they hear best",
    "hysteresis_db": "how far a neighbour's received power must exceed the serving one's (A3 offset)",
    "interval_s": "how often moving devices are checked for a handover",
    "mobility": "how the devices move",
    "mobility.model": "static, random_waypoint, or trace (positions read from a CSV file)",
    "pause_s": "pause at each waypoint",
    "rule": "none: devices keep their access point; strongest: 3GPP A3 event, no time-to-trigger (TS 38.331 §5.5.4.4)",
    "speed_mps": "[vmin, vmax]: each leg's speed is drawn uniformly in it",
    "x": "a device's starting x, m, drawn per device",
    "y": "a device's starting y, m, drawn per device",
    # -- compute: device CPUs, edge servers, cloud ----------------------------------------------
    "cloud": "a cloud behind every access point, the action after the last server; absent: no cloud",
    "cloud.delay_s": "propagation delay of the access point -> cloud link",
    "cloud.rate_bps": "rate of the wired link from every access point to the cloud",
    "cores": "number of cores, each at speed_hz",
    "discipline": "order of service: fifo, schedule_order (MRLCO eqs. 5-7), processor_sharing (all at once)",
    "memory_bytes": "memory the tasks it runs hold (workload.task_memory_bytes); null: unlimited",
    "memory_policy": "a task whose memory is not free now: wait for it, or drop its application",
    "servers": "the edge servers (actions 1..K, in this order)",
    "servers[].access_point": "the access point the server stands behind",
    "servers[].name": "the server's name",
    "speed_hz": "speed of one core, cycles/s",
    "vm_speed_hz": "speed of each device's VM; null: cores·speed_hz / devices (f_vm = f_s / k, MRLCO §3)",
    "vms": "dedicated: one single-core VM per device (MRLCO §3); shared: one pool of the cores for all",
    # -- wired links ----------------------------------------------------------------------------
    "links": "wired full-duplex backhaul links between access points",
    "links[].a": "one end of the link: an access point",
    "links[].b": "the other end: another access point",
    "links[].delay_s": "propagation delay after a message's serialisation (the link is free meanwhile)",
    "links[].rate_bps": "serialisation rate of the link",
    # -- decisions and training -----------------------------------------------------------------
    "compat": "switches that reproduce quirks of the MRLCO authors' code",
    "decisions": "when the controller is asked: at_arrival (all tasks at once, the papers') or when_ready (each task)",
    "entry_upload_bypass": "true: an entry task's upload does not occupy the uplink (the authors' evaluator)",
    "training": "learning tasks of mecsim train/eval: {train, test} lists of {name, set: {dotted.key: value}}",
    # -- workload: DAG applications -------------------------------------------------------------
    "apps_per_device": "applications each device runs; null: what the arrival process gives (back_to_back: each graph once in all)",
    "arrival": "when applications arrive at each device",
    "attributes": "which .gv node attribute gives each task quantity, and a factor on it",
    "ccr": "data size / cost of a task (daggen --ccr): its cost (size) is data / ccr, its result (expect_size) data",
    "cycles": "node attribute giving a task's CPU cycles (MRLCO files: size)",
    "cycles_factor": "factor on the cycles attribute",
    "dags": "the application graphs: a folder of .gv files, or generated ones",
    "density": "share of the previous level a task takes as parents, in [0, 1] (daggen --density)",
    "down_bytes": "node attribute giving the result bytes an offloaded task sends back (MRLCO files: expect_size)",
    "down_factor": "factor on the down_bytes attribute",
    "fat": "graph width: the perfect level width is floor(n^fat), in (0, 1] (daggen --fat)",
    "folder": "folder of .gv files, relative to the scenario's folder, or dataset:NAME/FOLDER (shipped)",
    "generate": "random layered DAGs made like Suter's daggen, as the MRLCO authors' data sets",
    "generate.count": "number of graphs generated",
    "jump": "how many levels up a parent may be (daggen --jump)",
    "maxdata": "upper bound (excluded) of a task's data size, bytes (daggen --maxdata); see mindata",
    "mindata": "lower bound of a task's data size, bytes (daggen --mindata): its expect_size, not its upload (size)",
    "n": "tasks per graph",
    "order": "schedule order: auto (the controller's, else rank), rank (MRLCO eq. 10), recursive_rank (MRLATO eq. 13), id",
    "pattern": "file-name pattern (glob) of the graphs in folder",
    "pick": "which graph an arriving application runs: sequential (dealt over the devices) or random",
    "process": "back_to_back (the next when one finishes, as the papers), poisson, or list (given times)",
    "rate_hz": "Poisson arrival rate of applications per device",
    "regularity": "how close level widths stay to the perfect width, in [0, 1] (1: all equal)",
    "task_memory_bytes": "memory a task holds on its server while it executes, drawn per task; null: none",
    "times_s": "arrival times, the same for every device, non-decreasing",
    "times_s[]": "one arrival time",
    "up_bytes": "node attribute giving the bytes an offloaded task uploads (MRLCO files: size)",
    "up_factor": "factor on the up_bytes attribute",
    "workload": "the DAG applications: where their graphs come from and when they arrive",
}

_SERVICE: Mapping[str, str] = {
    # -- runs, slots and seeds (PEARL-DT §V) ----------------------------------------------------
    "episode_slots": "slots per episode of the training environment (paper silent)",
    "seed": "seed of what varies between runs, the EDs' slot states (the system itself is world_seed's)",
    "slot_s": "shortest slot: the next starts slot_s later, or when the slot's last request ends",
    "slots": "slots the physical system runs, each one decision for every ED's request",
    "world_seed": "seed of the system itself: backhaul, ED speeds, cloud links and the AI-model conditions",
    # -- end devices (EDs) and their per-slot states (PEARL-DT eq. 16, Table I) -----------------
    "devices": "the EDs and the distributions of their per-slot states (PEARL-DT eq. 16)",
    "devices.accuracy_pct": "accuracy τ a request requires, % (PEARL-DT §V: N(70, 5²))",
    "devices.bandwidth_hz": "uplink bandwidth B_u of an ED, drawn per slot (PEARL-DT Table I)",
    "devices.count": "number of EDs, one request each per slot (PEARL-DT §V: 80)",
    "devices.distance_m": "ED-access point distance, drawn per slot (PEARL-DT Table I)",
    "devices.flops": "ED CPU speed P^f_u for local service, drawn once per ED (PEARL-DT eq. 5)",
    "devices.noise_dbm": "noise power N_u of an ED's uplink, drawn per slot (PEARL-DT Table I)",
    "devices.result_bytes": "result size V^R of a request, drawn per slot (PEARL-DT Table I)",
    "devices.task_bytes": "input size V^T of a request before compression, drawn per slot (PEARL-DT Table I)",
    "devices.tx_power_dbm": "ED transmit power p_u (PEARL-DT §IV-C: 20 dBm)",
    "pathloss": "the ED uplinks' 3GPP TR 38.901 RMa path loss (PEARL-DT §II-B)",
    # -- edge servers, backhaul, cloud ----------------------------------------------------------
    "backhaul": "wired links between every pair of access points, drawn per pair (PEARL-DT eq. 2)",
    "backhaul.delay_s": "propagation delay δ of a pair's link (PEARL-DT Table I)",
    "backhaul.rate_bps": "rate B of a pair's link (PEARL-DT Table I)",
    "backhaul.sharing": "parallel: every transfer at the full rate (PEARL-DT eq. 2); fifo: a link's transfers queue",
    "cloud": "the cloud behind every access point; it runs each AiSF's most complex model (PEARL-DT §V)",
    "cloud.delay_s": "propagation delay of an access point's cloud link, drawn per access point (paper silent)",
    "cloud.flops": "speed of an AiSF in the cloud (PEARL-DT §V: 400 GFLOPS)",
    "cloud.rate_bps": "rate of an access point's link to the cloud, drawn per access point (paper silent)",
    "memory_unit_bytes": "memory unit of the placement knapsack: model memories are rounded up to it",
    "servers": "the edge servers, one beside each access point (PEARL-DT §II-A, §V)",
    "servers[].cores": "P^n_h: how many AiSFs it serves at once, one virtual core each (constraint C2)",
    "servers[].flops": "P^f_h: speed of each virtual core, FLOP/s (PEARL-DT eq. 4)",
    "servers[].memory_bytes": "R_h: memory for the models it hosts (constraint C3)",
    # -- AI service functions (AiSFs) and AI-model conditions (PEARL-DT §II-B, §V) --------------
    "aisf": "how each ED's AI service function (models, data methods) is drawn (PEARL-DT Table I)",
    "aisf.accuracy_pct": "full-quality accuracy of the lighter models, % (paper silent)",
    "aisf.compression": "compression ratio α of a data method, also its data quality (PEARL-DT Table I, eq. 6)",
    "aisf.data_methods": "data methods per AiSF; the last sends the raw data (paper silent)",
    "aisf.flop_per_bit": "ρ: FLOP per input bit of a model (PEARL-DT Table I, eq. 3)",
    "aisf.memory_bytes": "R: memory a model takes on a server (PEARL-DT Table I)",
    "aisf.models": "model variants per AiSF, lightest first (paper silent)",
    "aisf.quality_loss_pct": "accuracy points lost from raw data to zero quality (the mapping of eq. 6; paper silent)",
    "aisf.top_accuracy_pct": "full-quality accuracy of the most complex model, % (paper silent)",
    "conditions": "the AI-model conditions: random AiSF groups, their upgrades and test conditions (PEARL-DT §V)",
    "conditions.test": "further random conditions t1..tN, for testing only (PEARL-DT §V: 3)",
    "conditions.upgrade": "how one upgrade changes an AiSF's models, drawn per AiSF (PEARL-DT §V)",
    "conditions.upgrades": "one entry per random group gG: how many upgrades gG.u1, ... follow it (PEARL-DT §V)",
    "conditions.upgrades[]": "upgrades of the group at this place in the list",
    "timeline": "which condition the physical system runs from when on (AI-model upgrades)",
    "timeline[].at_s": "simulated time from which the entry's condition runs (from the next slot on)",
    "timeline[].condition": "the condition: gG or gG.uK (training) or tK (test)",
    "twins": "the digital twins of the conditions met (PEARL-DT §IV-C)",
    "twins.states": "a twin's slot states: generated from the distributions, or observed in the physical system",
    # -- one upgrade (conditions.upgrade), drawn per AiSF (PEARL-DT §V) -------------------------
    "accuracy_gain_pct": "accuracy points an upgrade adds to every model",
    "flop_factor": "factor an upgrade puts on every model's FLOP per bit",
    "memory_factor": "factor an upgrade puts on every model's memory",
}

_TUNING: Mapping[str, str] = {
    # -- UEs, tasks, the foundation model (HMPPO §II, §VI-A) ------------------------------------
    "complexity": "complexity c of a task, drawn per task: its perplexity is scaled by (c + ι)/c (paper silent)",
    "data_mb": "local data D of a task, MB (10^6 bytes), drawn per task (HMPPO §VI-A)",
    "model_gb": "size D_FM of the foundation model, GB; an emulator is E·D_FM (HMPPO eq. 5)",
    "tasks": "tasks T in every UE's buffer, one per step (HMPPO §VI-A: 50)",
    "ues": "number of UEs N that fine-tune (HMPPO §VI-A: 6-9)",
    # -- emulator and perplexity model (HMPPO §VI-A) --------------------------------------------
    "emulator": "the layer-drop emulator and the perplexity curve f(E) (HMPPO §VI-A)",
    "emulator.complexity_weight": "ι in κ = f(E)·(c + ι)/c (HMPPO §VI-A)",
    "emulator.layers": "layers the retention E applies to: round(E·layers) are kept (paper silent)",
    "emulator.max": "highest emulator retention E a controller may choose (HMPPO §VI-A: 0.8)",
    "emulator.min": "lowest emulator retention E a controller may choose (HMPPO §VI-A: 0.2)",
    "emulator.perplexity": "[a, b, c] of f(E) = a·E² + b·E + c, the §VI-A fit; the server trains at f(1)",
    "emulator.perplexity[]": "a coefficient of f(E): a, then b, then c",
    # -- radio (HMPPO §II eqs. 2-3, 6-7; §VI-A) -------------------------------------------------
    "channel": "path loss, fading and noise of both links",
    "channel.distance_m": "UE-server distance, drawn per UE and episode (paper silent)",
    "channel.fading": "rayleigh block fading (HMPPO §VI-A; transfers at its exact ergodic rate) or none",
    "channel.frequency_hz": "carrier frequency of the 1 m free-space reference loss (paper silent)",
    "channel.pathloss_exponent": "α of the log-distance path loss from 1 m (HMPPO §VI-A: 2)",
    "downlink": "the FDMA downlink that sends emulators to the UEs (HMPPO eq. 7)",
    "downlink.bandwidth_hz": "W_d, shared equally by the UEs downloading at once (HMPPO eq. 7)",
    "downlink.power_w": "P_d, the server's transmit power, shared equally like the band (HMPPO eq. 7)",
    "uplink": "the FDMA uplink that carries task data to the server (HMPPO eq. 3)",
    "uplink.bandwidth_hz": "W_u, shared equally by the UEs uploading at once (HMPPO eq. 3)",
    "uplink.power_w": "UE transmit power p_u, drawn per task (HMPPO §VI-A: 0.2-1 W)",
    # -- training times and reward (HMPPO eq. 8, §IV-C) -----------------------------------------
    "compute": "fine-tuning run times; the paper counts only communication delay (HMPPO eq. 8)",
    "compute.server_s_per_mb": "server training time per MB of local data, s/MB",
    "compute.ue_s_per_mb": "UE training time per MB of local data at E = 1 (scaled by E), s/MB",
    "reward": "R_t = -w_p·mean κ/κ_ref - w_d·max d/d_ref (HMPPO §IV-C, normalised here)",
    "reward.delay_ref_s": "d_ref: the step delay that makes the delay term 1",
    "reward.delay_weight": "w_d: weight of the delay term; w_p + w_d = 1",
    "reward.perplexity_ref": "κ_ref: the perplexity that makes the perplexity term 1",
    "reward.perplexity_weight": "w_p: weight of the perplexity term; w_p + w_d = 1",
}

SYSTEMS: Mapping[str, Mapping[str, str]] = {
    "dag_offloading": _DAG, "service_management": _SERVICE, "edge_tuning": _TUNING}
"""Each system's own meanings, by path suffix."""


def _parts(path: Sequence[Any]) -> list[str]:
    """``("servers", "*", "name")`` (or with 0 for the index) -> ``["servers[]", "name"]``."""
    parts: list[str] = []
    for part in path:
        if isinstance(part, str) and part != "*":
            parts.append(part)
        elif parts:
            parts[-1] += "[]"
    return parts


def entry(path: Sequence[Any], system: str) -> tuple[str, str] | None:
    """Where the meaning of `path` in `system` is written: (system name or "common", suffix)."""
    parts = _parts(path)
    tables = ((system, SYSTEMS.get(system, {})), ("common", COMMON))
    for length in range(len(parts), 0, -1):
        suffix = ".".join(parts[-length:])
        for scope, table in tables:
            if suffix in table:
                return scope, suffix
    return None


def meaning(path: Sequence[Any], system: str) -> str | None:
    """The one-line meaning of a key path (list items as "*" or an index) of `system`; None if unwritten."""
    found = entry(path, system)
    if found is None:
        return None
    scope, suffix = found
    return (COMMON if scope == "common" else SYSTEMS[scope])[suffix]
