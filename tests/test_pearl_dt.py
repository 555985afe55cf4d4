"""Factored discrete SAC, the SAC baselines and PEARL-DT: losses, gradient routing, training, resume,
checkpoints and adaptation without parameter changes."""
from __future__ import annotations

import csv
import itertools
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from mecsim.controllers import pearl_dt, sac_baselines, sac_discrete, service_training
from mecsim.controllers.pearl_dt import ContextEncoder, PearlDT, kl_to_prior
from mecsim.controllers.sac_discrete import FactoredSAC, SACConfig, entropy, joint_probs
from mecsim.checkpoint import load_checkpoint
from mecsim.cli import main
from mecsim.registry import resolve
from mecsim.scenario.load import load_scenario
from mecsim.systems.service_management import ServiceSimulation, build_world

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "scenarios" / "pearl_dt" / "small.yaml"
TINY_SAC = SACConfig(hidden=16, layers=1, lr=1e-3, batch=8, updates=2, alpha_every=1, policy_every=2, buffer=64,
                     warmup=2, outer_steps=2, iterations=2, eval_every=1, eval_slots=2, patience=5)


@pytest.fixture
def tiny_budgets(monkeypatch):
    monkeypatch.setitem(sac_discrete.BUDGETS, "smoke", TINY_SAC)
    monkeypatch.setitem(pearl_dt.BUDGETS, "smoke", replace(pearl_dt.BUDGETS["smoke"], sac=TINY_SAC, encoder_hidden=8,
                                                           encoder_layers=1, window=8, context_max=4, adapt_steps=2))


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path / "progress.csv", newline="") as f:
        return list(csv.DictReader(f))


# -- the factored SAC's pieces --------------------------------------------------------------------

def test_expected_q_over_the_factored_policy_is_exact():
    """Σ_u Σ_{a_u} P_u Q_u equals the expectation of Σ_u Q_u(a_u) over every joint action of all EDs."""
    torch.manual_seed(0)
    nvec, u = [2, 3, 2], 2
    logps = [torch.log_softmax(torch.randn(1, u, n), -1) for n in nvec]
    q = torch.randn(1, u, 12)
    fast = float((joint_probs(logps) * q).sum())
    brute = 0.0
    for a in itertools.product(*[range(n) for n in nvec * u]):
        p, value = 1.0, 0.0
        for ed in range(u):
            ds, ta, ms = a[3 * ed: 3 * ed + 3]
            p *= float(logps[0][0, ed, ds].exp() * logps[1][0, ed, ta].exp() * logps[2][0, ed, ms].exp())
            value += float(q[0, ed, (ds * 3 + ta) * 2 + ms])
        brute += p * value
    assert fast == pytest.approx(brute, rel=1e-5)
    assert torch.allclose(joint_probs(logps).sum(-1), torch.ones(1, u))
    uniform = [torch.full((1, u, n), -np.log(n)) for n in nvec]
    assert float(entropy(uniform)) == pytest.approx(u * np.log(12), rel=1e-6)


def _batch(rng, shape, nvec, n=6):
    return {"obs": torch.rand(n, *shape), "next_obs": torch.rand(n, *shape),
            "action": torch.randint(0, int(np.prod(nvec)), (n, shape[0])), "reward": -torch.rand(n),
            "reward_ed": -torch.rand(n, shape[0]), "done": torch.zeros(n), "gamma": torch.tensor(0.5)}


@pytest.mark.parametrize("credit", ["per_ed", "joint"])
def test_encoder_trained_by_critic_and_kl_never_by_actor(credit):
    torch.manual_seed(1)
    shape, nvec = (3, 4), [2, 3, 2]
    agent = FactoredSAC(shape, nvec, TINY_SAC, latent=2)
    encoder = ContextEncoder(5, 2, 8, 1)
    batch = _batch(None, shape, nvec)
    if credit == "joint":
        del batch["reward_ed"]
    mu, var = encoder.posterior(torch.randn(4, 5))
    z = (mu + var.sqrt() * torch.randn(2)).expand(6, -1)
    loss_pi, _ = agent.actor_loss(batch["obs"], z.detach())
    loss_pi.backward()
    assert all(p.grad is None for p in encoder.parameters())
    assert any(p.grad is not None for p in agent.actor.parameters())
    (agent.critic_loss(batch, z) + 0.1 * kl_to_prior(mu, var)).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in encoder.parameters())


def test_product_of_gaussians_posterior():
    enc = ContextEncoder(3, 2, 4, 1)
    ctx = torch.randn(5, 3)
    mu, var = enc.posterior(ctx)
    out = enc.net(ctx)
    m, v = out[:, :2], torch.nn.functional.softplus(out[:, 2:])
    assert torch.allclose(var, 1 / (1 / v).sum(0)) and torch.allclose(mu, var * (m / v).sum(0))
    mu2, var2 = enc.posterior(ctx[torch.randperm(5)])           # permutation invariant
    assert torch.allclose(mu, mu2, atol=1e-6) and torch.allclose(var, var2, atol=1e-6)
    prior = enc.posterior(torch.zeros(0, 3))
    assert torch.equal(prior[0], torch.zeros(2)) and torch.equal(prior[1], torch.ones(2))
    assert float(kl_to_prior(torch.zeros(2), torch.ones(2))) == 0.0


def test_temperature_rises_when_entropy_is_below_target():
    agent = FactoredSAC((2, 3), [2, 2, 2], TINY_SAC)
    opt = torch.optim.SGD([agent.log_alpha], lr=0.1)
    before = float(agent.log_alpha.detach())
    agent.alpha_loss(torch.zeros(4)).backward()     # entropy 0 < H̄
    opt.step()
    assert float(agent.log_alpha.detach()) > before
    assert 0 < agent.target_entropy < 2 * 3 * np.log(2)   # well below the maximum


# -- training, resume, checkpoints ------------------------------------------------------------------

@pytest.mark.parametrize("name", ["pearl_dt", "sac_baselines"])
def test_train_resume_and_checkpoint(name, tiny_budgets, tmp_path):
    out = tmp_path / name
    assert main(["train", str(SMALL), "--controller", name, "--out", str(out), "--quiet"]) == 0
    rows = _rows(out)
    assert [r["iteration"] for r in rows] == ["1", "2"]
    payload = load_checkpoint(out, name)                      # weights_only loading
    assert payload["iteration"] == 2 and payload["env_steps"] == int(rows[-1]["env_steps"])
    key = "critic_loss" if name == "pearl_dt" else "sac_dts_critic_loss"
    assert rows[-1][key] != ""                                 # updates happened
    # resume continues the count (a larger iteration count than the budget's: 3)
    trainer = pearl_dt.train if name == "pearl_dt" else sac_baselines.train
    trainer(SMALL, out, budget="smoke", resume=True, progress=False, iterations=3)
    rows = _rows(out)
    assert [r["iteration"] for r in rows] == ["1", "2", "3"]
    assert int(rows[2]["env_steps"]) > int(rows[1]["env_steps"])
    assert load_checkpoint(out, name)["iteration"] == 3
    evald = tmp_path / "eval"
    assert main(["eval", str(SMALL), "--checkpoint", str(out), "--out", str(evald), "--adapt-steps", "0,1",
                 "--seeds", "0", "--quiet"]) == 0
    with open(evald / "eval.csv", newline="") as f:
        got = {(r["controller"], r["test_set"]) for r in csv.DictReader(f)}
    learned = {"pearl_dt"} if name == "pearl_dt" else {"sac_aisf", "sac_dts", "sac_tm"}
    assert {c for c, _ in got} == learned | {"random", "local"} and {t for _, t in got} == {"t1", "t2", "t3"}


def test_adaptation_changes_no_weights(tiny_budgets, tmp_path):
    out = tmp_path / "pearl"
    pearl_dt.train(SMALL, out, budget="smoke", progress=False)
    ctrl = PearlDT(str(out), adapt_steps=2)
    before = {k: v.clone() for k, v in {**ctrl.actor.state_dict(), **ctrl.encoder.state_dict()}.items()}
    sc = load_scenario(SMALL)      # its timeline has two upgrades: the controller restarts its context twice
    result = ServiceSimulation(sc, ctrl, seed=0, trace=False).run()
    assert len({s.epoch for s in result.slots}) == 3 and len(ctrl.policy.context.rows) == 2
    pearl_dt.evaluate(SMALL, out, adapt_steps=[0, 2], seeds=[0], heuristics=[], progress=False)
    after = {**ctrl.actor.state_dict(), **ctrl.encoder.state_dict()}
    assert all(torch.equal(before[k], after[k]) for k in before)
    payload = load_checkpoint(out, "pearl_dt")
    assert all(torch.equal(payload["agent"][f"actor.{k}"], v) for k, v in ctrl.actor.state_dict().items())


def test_sac_acting_controllers_run_in_the_engine(tiny_budgets, tmp_path):
    out = tmp_path / "sac"
    sac_baselines.train(SMALL, out, budget="smoke", progress=False)
    for name in ("sac_dts", "sac_tm", "sac_aisf"):     # each run into its own folder (issue 16)
        assert main(["run", str(SMALL), "--controller", name, "--set", f"controller_params={{checkpoint: {out}}}",
                     "--out", str(tmp_path / name), "--quiet", "--no-trace"]) == 0
    with pytest.raises(ValueError, match="condition"):
        sac_baselines.SacAisf(str(out), condition="g1")


def test_meta_epoch_trains_the_encoder_through_the_critic():
    """Algorithm 1 line 12 as run in training (_meta_epoch → sac_epoch with extra_opt): with β = 0 the
    encoder's gradient can only come from the critic's TD error through z, so it must be non-zero."""
    torch.manual_seed(0)
    shape, nvec = (3, 4), [2, 3, 2]
    cfg = replace(pearl_dt.BUDGETS["smoke"], sac=TINY_SAC, beta=0.0, encoder_hidden=8, encoder_layers=1,
                  window=8, context_max=4)
    learner = pearl_dt.build_learner(cfg, shape, nvec)
    rng = np.random.default_rng(0)
    buffers = {}
    for c in ("a", "b"):
        buf = sac_discrete.ReplayBuffer(TINY_SAC.buffer, shape)
        for _ in range(16):
            buf.add(rng.random(shape), rng.integers(0, nvec, (shape[0], 3)), -rng.random(), rng.random(shape), False,
                    rng.random(shape[0]))
        buffers[c] = buf
    before = [p.detach().clone() for p in learner.encoder.parameters()]
    out = pearl_dt._meta_epoch(learner, cfg, 1, buffers, list(buffers), nvec, rng, torch.Generator().manual_seed(0))
    assert out["kl"] > 0
    assert all(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in learner.encoder.parameters())
    assert any(not torch.equal(b, p.detach()) for b, p in zip(before, learner.encoder.parameters()))


@pytest.mark.parametrize("name, cls", [("sac_aisf", "SacAisf"), ("sac_dts", "SacDTs"), ("sac_tm", "SacTM")])
def test_sac_controllers_resolve_by_name_and_by_their_earlier_module_path(name, cls):
    """The acting controllers moved to sac_baselines; a scenario naming controllers.sac_discrete:Cls still works."""
    assert resolve(name) is resolve(f"mecsim.controllers.sac_discrete:{cls}") is getattr(sac_baselines, cls)
    assert resolve(f"mecsim.controllers.sac_discrete:{cls}") is resolve(name)       # the path before the namespace
    with pytest.raises(AttributeError):
        sac_discrete.NoSuchController  # noqa: B018 (the module's __getattr__ must refuse it)


@pytest.mark.parametrize("source", ["generated", "observed"])
def test_training_envs_follow_the_twins_state_source(source):
    """SAC and PEARL-DT train in condition_env: a twin's env replays observed states only when asked."""
    sc = load_scenario(SMALL, [f"twins.states={source}"])
    world = build_world(sc)
    dts = service_training.digital_twins(sc, world, seed=0)
    env = service_training.condition_env(sc, world, dts, "g1")
    assert env.states == (dts.twins["g1"].states if source == "observed" else None)
    assert service_training.condition_env(sc, world, dts, "t1").states is None     # a test condition: no twin
