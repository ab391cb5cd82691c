"""The vanishing-gradient lab (models/lab): the gradient-through-time API against central finite
differences, the tasks against written-out numpy, every architecture example learning with quick
settings, and the error paths."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from models.lab import adding, architectures, gradients, models, report, tasks
from models.lab.gradients import find_states, gradient_through_time
from models.lab.models import CELLS, make_rnn

# ---------------------------------------------------------------------------------------------
# Gradient through time vs finite differences
# ---------------------------------------------------------------------------------------------

T, B, N_IN, H = 4, 2, 3, 3


def _cells_like(layer: nn.RNNBase, cell_name: str) -> list[nn.RNNCellBase]:
    """Stand-alone cells holding the layer's weights, one per layer and direction."""
    cls = type(layer.cells[0])
    options = CELLS[cell_name][1]
    D = layer.num_directions
    cells = []
    for k in range(layer.num_layers):
        for d in range(D):
            suffix = f"_l{k}" + ("_reverse" if d else "")
            size = N_IN if k == 0 else D * H
            cell = cls(size, H, dtype=np.float64, **options)
            cell.load_state_dict({name: getattr(layer, name + suffix).data for name in cell.state_dict()})
            cells.append(cell)
    return cells


def _lstm_step(cell, x, h, c, probe_c):
    """The LSTM equations written out (peepholes if the cell has them), probe added to c_t
    BEFORE h_t = o * tanh(c_t) reads it: dL/dc_t includes the path through h_t."""
    w = {name: mg.tensor(value) for name, value in cell.state_dict().items()}
    gates = x @ w["weight_ih"].T + w["bias_ih"] + h @ w["weight_hh"].T + w["bias_hh"]
    i, f, g, o = (gates[:, n * H : (n + 1) * H] for n in range(4))
    if "weight_ci" in w:
        i, f = i + w["weight_ci"] * c, f + w["weight_cf"] * c
    c = f.sigmoid() * c + i.sigmoid() * g.tanh() + mg.tensor(probe_c)
    if "weight_co" in w:
        o = o + w["weight_co"] * c
    return o.sigmoid() * c.tanh(), c


def _manual_stack(cells, num_layers, D, x, probes, lstm):
    """The layer's forward written as a plain loop over cells, with a probe added to every state.

    probes[(k, d, name)] is a (T, B, H) float64 array: s_t <- s_t + probe[t]. At probe = 0 this is
    the layer's forward, and dL/d probe[t] = dL/d s_t, the quantity the lab's API reports.
    """
    inp = mg.tensor(x)
    for k in range(num_layers):
        outs = []
        for d in range(D):
            cell = cells[k * D + d]
            h = c = mg.tensor(np.zeros((B, H)))
            seq = [None] * T
            for t in range(T - 1, -1, -1) if d else range(T):
                if lstm:
                    h, c = _lstm_step(cell, inp[t], h, c, probes[(k, d, "c")][t])
                else:
                    h = cell(inp[t], h)
                h = h + mg.tensor(probes[(k, d, "h")][t])
                seq[t] = h
            outs.append(mg.stack(seq, axis=0))
        inp = outs[0] if D == 1 else mg.concat(outs, axis=-1)
    return inp


def _loss(out, weights):
    """A loss reading every step (so both directions get gradient from all of them) and the last twice."""
    return (out * mg.tensor(weights)).sum() + (out[-1] ** 2).sum()


@pytest.mark.parametrize(
    "cell_name,num_layers,bidirectional",
    [
        ("rnn", 1, False),
        ("gru", 2, True),
        ("gru-reset-before", 1, True),
        ("gru-minimal", 2, False),
        ("lstm", 2, True),
        ("lstm-peephole", 1, False),
    ],
)
def test_gradient_through_time_matches_finite_differences(cell_name, num_layers, bidirectional):
    mg.manual_seed(3)
    layer = make_rnn(cell_name, N_IN, H, num_layers, bidirectional, dtype=np.float64)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(T, B, N_IN))
    D = 2 if bidirectional else 1
    weights = rng.normal(size=(T, B, D * H))
    lstm = CELLS[cell_name][0] is nn.LSTM

    got = gradient_through_time(lambda: _loss(layer(x)[0], weights))

    cells = _cells_like(layer, cell_name)
    names = ("c", "h") if lstm else ("h",)
    probes = {(k, d, n): np.zeros((T, B, H)) for k in range(num_layers) for d in range(D) for n in names}

    def loss_at(probes):
        with mg.no_grad():
            return float(_loss(_manual_stack(cells, num_layers, D, x, probes, lstm), weights).item())

    assert got.loss == pytest.approx(loss_at(probes), rel=1e-12)
    eps = 1e-6
    layer_name = CELLS[cell_name][0].__name__.lower()
    expected_keys = {f"{layer_name}/l{k}/{'bwd' if d else 'fwd'}/{n}" for (k, d, n) in probes}
    assert set(got.keys()) == expected_keys
    for (k, d, n), probe in probes.items():
        grad = np.zeros_like(probe)
        for index in np.ndindex(probe.shape):
            probe[index] = eps
            up = loss_at(probes)
            probe[index] = -eps
            down = loss_at(probes)
            probe[index] = 0.0
            grad[index] = (up - down) / (2 * eps)
        want = np.linalg.norm(grad.reshape(T, -1), axis=1)
        key = f"{layer_name}/l{k}/{'bwd' if d else 'fwd'}/{n}"
        np.testing.assert_allclose(got[key], want, rtol=1e-6, atol=1e-9, err_msg=key)
        assert (want > 0).all()  # every state reaches this loss: a zero would hide a missed state


def test_gradient_through_time_reads_hand_written_loops_and_final_state_only_losses():
    """A loop with mg.scope(f"t{t}") is read like a layer; a loss on h_T alone gives |dL/dh_t| by chain rule."""
    mg.manual_seed(0)
    cell = nn.RNNCell(2, 3, dtype=np.float64)
    x = np.random.default_rng(0).normal(size=(5, 1, 2))

    def run():
        h = None
        for t in range(5):
            with mg.scope(f"t{t}"):
                h = cell(x[t], h)
            last = h
        return (last * 1.0).sum()  # read outside the step, so h_4 counts as a state

    got = gradient_through_time(run)
    assert got.keys() == ["h"]
    # Independent reference: dh_{t+1}/dh_t = diag(1 - h_{t+1}^2) W_hh, written out in numpy.
    W, U = cell.weight_hh.data, cell.weight_ih.data
    b = cell.bias_ih.data + cell.bias_hh.data
    hs, h = [], np.zeros(3)
    for t in range(5):
        h = np.tanh(U @ x[t, 0] + W @ h + b)
        hs.append(h)
    g = np.ones(3)
    want = [0.0] * 5
    for t in range(4, -1, -1):
        want[t] = np.linalg.norm(g)
        g = W.T @ (g * (1 - hs[t] ** 2)) if t else g
    np.testing.assert_allclose(got["h"], want, rtol=1e-10)
    assert got.steps == 5


def test_gradient_through_time_leaves_no_hooks_behind():
    mg.manual_seed(0)
    layer = nn.GRU(2, 3)
    x = np.ones((3, 1, 2), dtype=np.float32)
    states = {}

    def run():
        with mg.trace() as tape:
            out, _ = layer(x)
        states.update(find_states(tape))
        return out.sum()

    gradient_through_time(run)
    assert all(s.hooks == () for steps in states.values() for s in steps.values())


def test_gradient_through_time_errors():
    layer = nn.RNN(2, 3)
    x = np.ones((3, 1, 2), dtype=np.float32)
    with pytest.raises(ValueError, match="scalar loss"):
        gradient_through_time(lambda: layer(x)[0])
    with pytest.raises(TypeError, match="must return the loss as a Tensor"):
        gradient_through_time(lambda: 1.0)
    with pytest.raises(ValueError, match="does not require grad"):

        def no_grad_run():
            with mg.no_grad():
                return layer(x)[0].sum()

        gradient_through_time(no_grad_run)
    lin = nn.Linear(2, 1)
    with pytest.raises(ValueError, match="timestep scope"):
        gradient_through_time(lambda: lin(mg.tensor(np.ones((1, 2), dtype=np.float32))).sum())
    result = gradient_through_time(lambda: layer(x)[0].sum())
    with pytest.raises(KeyError, match="rnn/l0/fwd/h"):
        result["lstm/l0/fwd/h"]
    assert gradients.__all__


# ---------------------------------------------------------------------------------------------
# Tasks, against written-out loops
# ---------------------------------------------------------------------------------------------


def test_adding_problem_has_two_markers_one_per_half_and_the_sum_as_target():
    x, y = tasks.adding_problem(11, 500, np.random.default_rng(0))
    assert x.shape == (11, 500, 2) and y.shape == (500, 1) and x.dtype == np.float32
    markers = x[:, :, 1]
    assert set(np.unique(markers)) == {0.0, 1.0}
    np.testing.assert_array_equal(markers.sum(0), 2)
    np.testing.assert_array_equal(markers[:5].sum(0), 1)  # one marker in [0, T//2), one in [T//2, T)
    for b in range(500):
        want = sum(float(x[t, b, 0]) for t in range(11) if markers[t, b] == 1)
        assert y[b, 0] == pytest.approx(want, rel=1e-6)
    # Predicting 1.0 scores about 1/6, the baseline every table quotes.
    _, y_big = tasks.adding_problem(2, 200_000, np.random.default_rng(1))
    assert float(((y_big - 1.0) ** 2).mean()) == pytest.approx(tasks.ADDING_BASELINE_MSE, abs=3e-3)


def test_tagging_tasks_match_plain_python():
    rng = np.random.default_rng(0)
    x, seen = tasks.seen_before(9, 20, 4, rng)
    x2, later = tasks.appears_later(9, 20, 4, rng)
    x3, sums = tasks.window_sum(9, 20, 5, 3, rng)
    src, tgt = tasks.reverse_sequence(6, 20, 7, rng)
    for b in range(20):
        col, col2, col3 = x[:, b].tolist(), x2[:, b].tolist(), x3[:, b].tolist()
        assert seen[:, b].tolist() == [int(col[t] in col[:t]) for t in range(9)]
        assert later[:, b].tolist() == [int(col2[t] in col2[t + 1 :]) for t in range(9)]
        assert sums[:, b].tolist() == [sum(col3[max(0, t - 2) : t + 1]) % 5 for t in range(9)]
        assert tgt[:, b].tolist() == src[::-1, b].tolist()
    assert x.max() < 4 and x3.max() < 5 and src.max() < 7


def test_names_gender_file_is_the_census_lists(tmp_path):
    names, labels = tasks.load_names_gender()
    assert len(names) == len(labels) > 5000
    assert set(labels.tolist()) == {0, 1}
    lookup = dict(zip(names, labels.tolist()))
    assert lookup["mary"] == 0 and lookup["john"] == 1 and lookup["james"] == 1
    assert all(n.isalpha() and n.islower() for n in names)
    bad = tmp_path / "bad.tsv"
    bad.write_text("anna\tf\nbob\tx\n")
    with pytest.raises(ValueError, match=r"bad.tsv:2: expected 'name<TAB>f\|m'"):
        tasks.load_names_gender(bad)
    with pytest.raises(FileNotFoundError, match="make_names_gender"):
        tasks.load_names_gender(tmp_path / "missing.tsv")


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda r: tasks.adding_problem(1, 4, r), "adding_problem: length must be an integer >= 2, got 1"),
        (lambda r: tasks.adding_problem(10, 0, r), "adding_problem: batch must be an integer >= 1, got 0"),
        (lambda r: tasks.adding_problem(10.5, 4, r), "adding_problem: length must be an integer >= 2, got 10.5"),
        (lambda r: tasks.seen_before(0, 4, 3, r), "seen_before: length must be an integer >= 1, got 0"),
        (lambda r: tasks.appears_later(5, 4, 1, r), "appears_later: vocab must be an integer >= 2, got 1"),
        (lambda r: tasks.window_sum(5, 4, 3, 0, r), "window_sum: window must be an integer >= 1, got 0"),
        (lambda r: tasks.reverse_sequence(-1, 4, 3, r), "reverse_sequence: length must be an integer >= 1, got -1"),
    ],
)
def test_task_errors_name_the_task_and_argument(call, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        call(np.random.default_rng(0))


# ---------------------------------------------------------------------------------------------
# Every experiment learns, with quick settings
# ---------------------------------------------------------------------------------------------


def test_gru_solves_a_short_adding_problem_and_the_profile_covers_every_step():
    run = adding.train_adding("gru", 8, iterations=120, batch=64, hidden=16, eval_every=40)
    assert run.curve[0][0] == 0 and run.curve[-1][0] == 120
    assert run.test_mse < 0.2 * tasks.ADDING_BASELINE_MSE < run.curve[0][1]
    profile = adding.gradient_profile(run.model, 8)
    assert profile.keys() == ["gru/l0/fwd/h"] and profile.steps == 8
    assert (profile["gru/l0/fwd/h"] > 0).all()


def test_clipping_keeps_an_exploding_rnn_finite():
    free = adding.exploding_gradients(length=30, iterations=40, clip_norm=None, gain=1.5, lr=0.1)
    clipped = adding.exploding_gradients(length=30, iterations=40, clip_norm=1.0, gain=1.5, lr=0.1)
    assert free.diverged and max(free.grad_norms) > 1e6
    assert not clipped.diverged and np.isfinite(clipped.losses).all()
    assert max(clipped.grad_norms) > 1.0  # there was something to clip


def test_bidirectional_beats_the_best_causal_rule():
    out = architectures.bidirectional_vs_unidirectional(iterations=80, hidden=16)
    uni, bi = out["unidirectional"].metrics, out["bidirectional"].metrics
    assert uni["ceiling"] == pytest.approx(architectures.unidirectional_ceiling(12, 8), abs=0.02)
    assert uni["accuracy"] < uni["ceiling"] + 0.02  # it cannot read ahead
    assert bi["accuracy"] > uni["ceiling"] + 0.08


def test_depth_comparison_trains_every_depth_and_a_wide_layer_of_the_same_size():
    out = architectures.depth_comparison(layers=(1, 2), window=2, length=10, iterations=80, hidden=12)
    assert list(out) == ["1 x 12", "2 x 12", f"1 x {int(out[list(out)[-1]].metrics['hidden'])}"]
    sizes = [o.metrics["parameters"] for o in out.values()]
    assert abs(sizes[2] - sizes[1]) < 0.1 * sizes[1] and sizes[0] < sizes[1]
    for o in out.values():
        assert o.metrics["accuracy"] > 2 * o.metrics["chance"]


def test_many_to_many_tagging_learns():
    out = architectures.example_tagging(iterations=60, hidden=16)
    assert out.metrics["accuracy"] > out.metrics["majority"] + 0.2
    assert len(out.samples) == 3


def test_encoder_decoder_learns_to_reverse():
    out = architectures.example_reverse(lengths=(2, 3), vocab=5, iterations=150, hidden=32)
    assert out.metrics["token_accuracy"] > 0.6 > 1 / 5
    assert out.metrics["exact"] > 0.3


def test_many_to_one_and_one_to_many_on_census_names():
    names = architectures.example_names(iterations=60, hidden=16)
    assert names.metrics["accuracy"] > names.metrics["majority"]
    assert names.metrics["balanced_accuracy"] > 0.6
    gen = architectures.example_generate(iterations=80, hidden=24, judge=names.model)
    assert gen.metrics["test_loss"] < gen.metrics["uniform"] - 0.8
    assert 0 <= gen.metrics["judge_agrees"] <= 1 and gen.samples


# ---------------------------------------------------------------------------------------------
# Error paths of the models and helpers
# ---------------------------------------------------------------------------------------------


def test_model_and_experiment_errors():
    with pytest.raises(ValueError, match="make_rnn: unknown cell 'lstmm'; choose one of rnn, gru"):
        make_rnn("lstmm", 2, 3)
    with pytest.raises(ValueError, match="train_adding: length must be >= 2"):
        adding.train_adding("rnn", 1, iterations=1)
    with pytest.raises(ValueError, match="fit: iterations must be a positive integer, got 0"):
        models.fit([], lambda i: None, 0)
    with pytest.raises(ValueError, match=r"example_reverse: lengths must be \(low, high\)"):
        architectures.example_reverse(lengths=(4, 2))
    with pytest.raises(ValueError, match="encode: 'ann3' has characters outside a-z"):
        architectures.encode(["ann3"])
    with pytest.raises(ValueError, match="markdown_table: every row needs 2 cells"):
        report.markdown_table(["a", "b"], [[1]])
    with pytest.raises(ValueError, match="align needs one of"):
        report.markdown_table(["a", "b"], [[1, 2]], align="lx")


def test_report_helpers():
    assert report.markdown_table(["x", "y"], [["a", 1]]) == "| x | y |\n|:---|---:|\n| a | 1 |\n"
    assert [report.fmt(v) for v in (1 / 6, 1.2e-4, float("nan"), 2.0)] == ["0.167", "1.20e-04", "nan", "2"]
    ids, lengths = architectures.encode(["ab", "c"])
    assert ids.tolist() == [[0, 2], [1, 0]] and lengths.tolist() == [2, 1]
    assert architectures.decode([2, 0, 19]) == "cat"


# ---------------------------------------------------------------------------------------------
# The demos run end to end with tiny settings
# ---------------------------------------------------------------------------------------------


def test_adding_demo_writes_its_table_and_plots(tmp_path, capsys):
    from demos import adding_problem

    assert (
        adding_problem.main(["--lengths", "4", "--cells", "rnn", "gru", "--iterations", "3", "--out", str(tmp_path)])
        == 0
    )
    table = (tmp_path / "results.md").read_text()
    assert "| 4 |" in table and "clip_grad_norm_(1.0)" in table and "diverged" in table
    for name in ("results.json", "adding_problem.png", "clipping.png"):
        assert (tmp_path / name).stat().st_size > 0
    with pytest.raises(SystemExit):
        adding_problem.main(["--lengths", "1"])
    assert "--lengths must all be >= 2" in capsys.readouterr().err


def test_vanishing_demo_writes_curves_table_and_graphs(tmp_path):
    from demos import vanishing_gradients

    assert (
        vanishing_gradients.main(
            [
                "--cells",
                "rnn",
                "lstm-peephole",
                "--length",
                "5",
                "--iterations",
                "2",
                "--graph-length",
                "2",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    table = (tmp_path / "results.md").read_text()
    assert "| rnn |" in table and "| lstm-peephole (cell state c) |" in table
    assert (tmp_path / "gradient_norms.png").stat().st_size > 0
    svg = (tmp_path / "graphs" / "lstm-peephole_trained.svg").read_text()
    assert "<svg" in svg and "t = 1" in svg


def test_architectures_demo_runs_each_part(tmp_path):
    from demos import architectures as demo

    assert demo.main(["--only", "bidirectional", "types", "--iterations-scale", "0.02", "--out", str(tmp_path)]) == 0
    table = (tmp_path / "results.md").read_text()
    for text in ("Bidirectional vs unidirectional", "many-to-one", "one-to-many", "encoder-decoder"):
        assert text in table
    assert (tmp_path / "architectures.png").stat().st_size > 0


def test_states_of_an_encoder_decoder_need_their_own_scopes():
    mg.manual_seed(0)
    enc, dec = nn.GRU(2, 3), nn.GRU(2, 3)
    x = np.ones((3, 1, 2), dtype=np.float32)

    def shared():
        return dec(x, enc(x)[1])[0].sum()

    with pytest.raises(ValueError, match="scope 'gru/l0/fwd/t0' ran twice"):
        gradient_through_time(shared)

    def scoped():
        with mg.scope("encoder"):
            state = enc(x)[1]
        with mg.scope("decoder"):
            return dec(x, state)[0].sum()

    got = gradient_through_time(scoped)
    assert got.keys() == ["decoder/gru/l0/fwd/h", "encoder/gru/l0/fwd/h"]
    assert (got["encoder/gru/l0/fwd/h"] > 0).all()
    model = models.Seq2Seq("lstm", 4, 5)
    src, tgt = tasks.reverse_sequence(3, 2, 4, np.random.default_rng(0))
    keys = gradient_through_time(lambda: model.loss(src, tgt)).keys()
    assert keys == ["decoder/lstm/l0/fwd/c", "decoder/lstm/l0/fwd/h", "encoder/lstm/l0/fwd/c", "encoder/lstm/l0/fwd/h"]
