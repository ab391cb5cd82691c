"""mg.optim.lr_scheduler: PyTorch's learning-rate sequences (from a committed table), state, errors."""

import importlib.util
import json
import math
import pickle
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
from minigrad.optim import lr_scheduler as sched

DATA = Path(__file__).parent / "data"
_spec = importlib.util.spec_from_file_location("make_lr_schedules", DATA / "make_lr_schedules.py")
table_maker = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(table_maker)  # the cases and lambdas only: torch is imported in main()
TABLE = json.loads((DATA / "lr_schedules.json").read_text())


def make_param():
    return mg.nn.Parameter(np.zeros(1, dtype=np.float32))


def test_table_matches_the_case_list():
    recorded = [{k: v for k, v in case.items() if k not in ("lrs", "momenta")} for case in TABLE["cases"]]
    assert recorded == table_maker.CASES, "regenerate with python tests/data/make_lr_schedules.py"
    kinds = {case["scheduler"] for case in TABLE["cases"]}
    assert {
        "StepLR",
        "MultiStepLR",
        "ExponentialLR",
        "CosineAnnealingLR",
        "LambdaLR",
        "OneCycleLR",
        "ReduceLROnPlateau",
    } <= kinds


@pytest.mark.parametrize("case", TABLE["cases"], ids=[case["name"] for case in TABLE["cases"]])
def test_sequence_equals_pytorchs(case):
    """Bit for bit: the same chainable updates in the same float operations as PyTorch."""
    ours = table_maker.run(case, mg.optim, sched, make_param)
    for step, (got, want) in enumerate(zip(ours["lrs"], case["lrs"])):
        assert got == want, f"step {step}: lr {got} != PyTorch's {want}"
    assert len(ours["lrs"]) == len(case["lrs"])
    assert ours["momenta"] == case["momenta"]


def sgd(lr=0.1, **kwargs):
    return mg.optim.SGD([make_param()], lr=lr, **kwargs)


def test_the_optimizer_uses_the_scheduled_rate():
    p = mg.nn.Parameter(np.zeros(1))
    opt = mg.optim.SGD([p], lr=1.0)
    scheduler = sched.StepLR(opt, step_size=1, gamma=0.5)
    for expected in (-1.0, -1.5, -1.75):
        p.grad = np.ones(1)
        opt.step()
        scheduler.step()
        assert p.data[0] == expected
    assert opt.param_groups[0]["initial_lr"] == 1.0 and scheduler.get_last_lr() == [0.125]
    assert scheduler.last_epoch == 3


def test_onecycle_cycles_adam_beta1():
    opt = mg.optim.Adam([make_param()], lr=1e-3, betas=(0.9, 0.99))
    scheduler = sched.OneCycleLR(opt, max_lr=0.01, total_steps=10)
    assert opt.param_groups[0]["betas"] == (0.95, 0.99)
    for _ in range(3):
        opt.step()
        scheduler.step()
    beta1, beta2 = opt.param_groups[0]["betas"]
    assert 0.85 < beta1 < 0.95 and beta2 == 0.99
    p = opt.param_groups[0]["params"][0]
    p.grad = np.ones(1, dtype=np.float32)
    opt.step()  # scheduler bookkeeping in the group does not reach the update
    assert np.isfinite(p.data).all()


def test_onecycle_refuses_steps_past_total():
    opt = sgd(momentum=0.9)
    scheduler = sched.OneCycleLR(opt, max_lr=0.1, total_steps=3)
    for _ in range(3):
        opt.step()
        scheduler.step()
    with pytest.raises(ValueError, match="stepped 4 times, but total_steps is 3"):
        opt.step()
        scheduler.step()


def test_cosine_past_t_max_climbs_back():
    opt = sgd(lr=1.0)
    scheduler = sched.CosineAnnealingLR(opt, T_max=4, eta_min=0.0)
    lrs = [scheduler.get_last_lr()[0]]
    for _ in range(8):
        opt.step()
        scheduler.step()
        lrs.append(scheduler.get_last_lr()[0])
    assert lrs[4] == pytest.approx(0.0, abs=1e-15) and lrs[8] == pytest.approx(1.0)
    assert lrs[2] == pytest.approx(0.5)


def test_state_dict_round_trip_resumes_the_schedule():
    def fresh():
        opt = sgd(lr=0.5)
        return opt, sched.CosineAnnealingLR(opt, T_max=10, eta_min=0.01)

    opt, scheduler = fresh()
    for _ in range(4):
        opt.step()
        scheduler.step()
    saved_opt, saved = opt.state_dict(), pickle.loads(pickle.dumps(scheduler.state_dict()))
    assert "optimizer" not in saved and saved["last_epoch"] == 4
    reference = []
    for _ in range(5):
        opt.step()
        scheduler.step()
        reference.append(scheduler.get_last_lr()[0])
    opt2, scheduler2 = fresh()
    opt2.load_state_dict(saved_opt)
    scheduler2.load_state_dict(saved)
    resumed = []
    for _ in range(5):
        opt2.step()
        scheduler2.step()
        resumed.append(scheduler2.get_last_lr()[0])
    assert resumed == reference


def test_plateau_state_dict_and_tensor_metric():
    opt = sgd()
    scheduler = sched.ReduceLROnPlateau(opt, patience=0, factor=0.5)
    scheduler.step(mg.tensor(1.0))
    scheduler.step(mg.tensor(2.0))
    assert scheduler.get_last_lr() == [0.05]
    state = scheduler.state_dict()
    other = sched.ReduceLROnPlateau(sgd())
    other.load_state_dict(state)
    assert other.best == 1.0 and other.patience == 0
    with pytest.raises(TypeError, match="metrics must be a number"):
        scheduler.step("low")


def test_lambda_state_dict_skips_functions():
    opt = sgd()
    scheduler = sched.LambdaLR(opt, lambda epoch: 0.9**epoch)
    assert scheduler.state_dict()["lr_lambdas"] == [None]


def test_resume_with_last_epoch():
    opt = sgd(lr=1.0)
    sched.StepLR(opt, step_size=2, gamma=0.5)
    resumed = sched.ExponentialLR(opt, gamma=0.5, last_epoch=3)
    assert resumed.base_lrs == [1.0] and resumed.last_epoch == 4
    with pytest.raises(KeyError, match="initial_lr"):
        sched.StepLR(sgd(), step_size=2, last_epoch=5)


def test_step_epoch_uses_the_closed_form_with_a_warning():
    opt = sgd(lr=1.0)
    scheduler = sched.StepLR(opt, step_size=2, gamma=0.5)
    opt.step()
    with pytest.warns(UserWarning, match="deprecated"):
        scheduler.step(7)
    assert scheduler.get_last_lr() == [0.125]


def test_warns_when_stepped_before_the_optimizer():
    scheduler = sched.ExponentialLR(sgd(), gamma=0.5)
    with pytest.warns(UserWarning, match=r"before optimizer.step\(\)"):
        scheduler.step()


def test_sequential_children_must_share_the_optimizer():
    opt, other = sgd(), sgd()
    with pytest.raises(ValueError, match="belongs to another optimizer"):
        sched.SequentialLR(opt, [sched.ConstantLR(opt), sched.ExponentialLR(other, 0.9)], milestones=[3])
    with pytest.raises(ValueError, match="one milestone fewer"):
        sched.SequentialLR(opt, [sched.ConstantLR(opt)], milestones=[3])
    with pytest.raises(ValueError, match="cannot be chained"):
        sched.ChainedScheduler([sched.ReduceLROnPlateau(opt)])


class NotOurs:
    param_groups = [{"lr": 0.1, "params": []}]


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: sched.StepLR(NotOurs(), step_size=3), "StepLR: optimizer must be a minigrad optimizer.*NotOurs"),
        (lambda: sched.StepLR([make_param()], step_size=3), "StepLR: optimizer must be a minigrad optimizer.*list"),
        (lambda: sched.ReduceLROnPlateau(NotOurs()), "ReduceLROnPlateau: optimizer must be a minigrad optimizer"),
        (lambda: sched.OneCycleLR(NotOurs(), max_lr=0.1, total_steps=5), "OneCycleLR: optimizer must be"),
    ],
)
def test_a_scheduler_needs_one_of_our_optimizers(make, match):
    with pytest.raises(TypeError, match=match):
        make()


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: sched.CosineAnnealingLR(sgd(), T_max=0), "T_max .* must be positive, got 0"),
        (lambda: sched.CosineAnnealingLR(sgd(), T_max=-3), "T_max"),
        (lambda: sched.StepLR(sgd(), step_size=0), "step_size must be a positive integer, got 0"),
        (lambda: sched.StepLR(sgd(), step_size=2.5), "step_size must be a positive integer"),
        (lambda: sched.MultiStepLR(sgd(), milestones=[3, -1]), "milestones must be non-negative integers"),
        (lambda: sched.LambdaLR(sgd(), lr_lambda=[abs, abs]), "lr_lambda has 2 values but the optimizer has 1"),
        (lambda: sched.OneCycleLR(sgd(), max_lr=0.1), "give total_steps, or epochs and steps_per_epoch"),
        (lambda: sched.OneCycleLR(sgd(), max_lr=0.1, total_steps=0), "total_steps must be a positive integer"),
        (lambda: sched.OneCycleLR(sgd(), max_lr=0.1, total_steps=10, pct_start=1.5), "pct_start"),
        (lambda: sched.OneCycleLR(sgd(), max_lr=0.1, total_steps=10, pct_start=0.1), "zero steps long"),
        (lambda: sched.OneCycleLR(sgd(), max_lr=0.1, total_steps=10, anneal_strategy="exp"), "anneal_strategy"),
        (
            lambda: sched.OneCycleLR(mg.optim.Adagrad([make_param()]), max_lr=0.1, total_steps=10),
            "cycle_momentum=True needs an optimizer with momentum or betas.*Adagrad",
        ),
        (lambda: sched.ReduceLROnPlateau(sgd(), factor=1.0), "factor must be < 1.0"),
        (lambda: sched.ReduceLROnPlateau(sgd(), mode="lowest"), "mode must be 'min' or 'max'"),
        (lambda: sched.ReduceLROnPlateau(sgd(), threshold_mode="pct"), "threshold_mode"),
        (lambda: sched.ReduceLROnPlateau(sgd(), patience=-1), "patience must be a non-negative integer"),
        (lambda: sched.ReduceLROnPlateau(sgd(), min_lr=[0.1, 0.2]), "min_lr has 2 values"),
        (lambda: sched.ConstantLR(sgd(), factor=0.0), r"factor must be in \(0, 1\]"),
        (lambda: sched.LinearLR(sgd(), start_factor=0.0), "start_factor"),
        (lambda: sched.StepLR(sgd(), step_size=3, last_epoch=-2), "last_epoch must be an integer >= -1"),
        (lambda: sched.CosineAnnealingWarmRestarts(sgd(), T_0=0), "T_0 .* must be a positive integer"),
        (lambda: sched.CosineAnnealingWarmRestarts(sgd(), T_0=5, T_mult=0), "T_mult must be an integer >= 1"),
        (lambda: sched.CyclicLR(sgd(), 0.01, 0.1, mode="sawtooth"), "mode must be"),
        (lambda: sched.CyclicLR(sgd(), 0.01, 0.1, step_size_up=0), "step_size_up must be a positive integer"),
        (lambda: sched.CyclicLR(mg.optim.Adagrad([make_param()]), 0.01, 0.1), "cycle_momentum=True needs"),
    ],
)
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_get_last_lr_is_per_group():
    opt = mg.optim.SGD([{"params": [make_param()], "lr": 0.1}, {"params": [make_param()], "lr": 0.01}])
    scheduler = sched.MultiStepLR(opt, milestones=[1], gamma=0.1)
    opt.step()
    scheduler.step()
    assert scheduler.get_last_lr() == pytest.approx([0.01, 0.001]) and math.isclose(opt.param_groups[1]["lr"], 0.001)


def test_integral_floats_are_accepted_as_pytorch_does():
    opt = sgd(lr=1.0)
    scheduler = sched.StepLR(opt, step_size=2.0, gamma=0.5)
    for _ in range(4):
        opt.step()
        scheduler.step()
    assert scheduler.get_last_lr() == [0.25]
    assert sched.MultiStepLR(sgd(), milestones=[2.0, 5]).milestones == {2: 1, 5: 1}
    with pytest.raises(ValueError, match="max_lr must be positive"):
        sched.OneCycleLR(sgd(), max_lr=-0.1, total_steps=10)


def test_warm_restarts_take_fractional_epochs():
    opt = sgd(lr=1.0)
    scheduler = sched.CosineAnnealingWarmRestarts(opt, T_0=4, T_mult=2, eta_min=0.0)
    opt.step()
    scheduler.step(2.0)  # half way through the first cycle
    assert scheduler.get_last_lr()[0] == pytest.approx(0.5)
    scheduler.step(4 + 2.0)  # a quarter into the second cycle (8 steps long)
    assert scheduler.T_i == 8 and scheduler.get_last_lr()[0] == pytest.approx((1 + math.cos(math.pi / 4)) / 2)
