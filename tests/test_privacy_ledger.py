"""The privacy-budget ledger: zCDP composition, reservations by conditional write (local store and
the loopback S3 server), racing fits in separate processes, and `synth-ops budget`."""

import json
import math
import multiprocessing

import pytest

from synth_ops.errors import BudgetExceeded
from synth_ops.privacy.accounting import epsilon_of, rho_of
from synth_ops.privacy.ledger import Budget, Charge, read_ledger, reserve, settle
from synth_ops.spec import S3Options
from synth_ops.stores import open_store
from tests.conftest import PENGUINS_CSV, run_cli, write_spec


def _opendp_profile(rho):
    """OpenDP's own zCDP -> approximate-DP conversion, called here directly: the Gaussian mechanism of
    scale 1 at sensitivity sqrt(2 rho) is rho-zCDP, and its converted map is rho's privacy profile."""
    from opendp import combinators, domains, measurements, metrics, mod

    mod.enable_features("contrib")
    gaussian = measurements.make_gaussian(
        domains.atom_domain(T=float, nan=False), metrics.absolute_distance(T=float), scale=1.0
    )
    return combinators.make_zCDP_to_approxDP(gaussian).map(math.sqrt(2 * rho))


def _opendp_epsilon(rho, delta):
    return _opendp_profile(rho).epsilon(delta)


def _bun_steinke(rho, delta):  # Bun & Steinke 2016, Prop. 1.3, by hand: the bound the ledger used before
    return rho + 2 * math.sqrt(rho * math.log(1 / delta))


def test_zcdp_conversion_is_opendps_and_no_looser_than_bun_steinke():
    for rho in (1e-4, 0.01, 0.1, 1.0, 5.0):
        for delta in (1e-9, 1e-6):
            assert epsilon_of(rho, delta) == _opendp_epsilon(rho, delta)
            assert epsilon_of(rho, delta) < _bun_steinke(rho, delta)
    assert epsilon_of(0.0, 1e-6) == 0.0


def test_rho_of_is_the_largest_rho_within_the_declared_epsilon():
    for delta in (1e-9, 1e-6):
        for epsilon in (0.1, 0.5, 1.0, 3.0, 10.0):
            rho = rho_of(epsilon, delta)
            # OpenDP's profile at rho spends at most delta at epsilon, and a hair more rho spends more
            assert _opendp_profile(rho).delta(epsilon) <= delta < _opendp_profile(rho * (1 + 1e-9)).delta(epsilon)
            assert epsilon_of(rho, delta) == pytest.approx(epsilon, rel=1e-12)
            # a fit declared as (epsilon, delta) runs with more rho (less noise) than Bun-Steinke allowed
            bun_steinke_rho = (math.sqrt(math.log(1 / delta) + epsilon) - math.sqrt(math.log(1 / delta))) ** 2
            assert rho > bun_steinke_rho
    assert rho_of(0.0, 1e-9) == 0.0
    # deterministic, not only cached: the ledger's charge and the DP backend's rho are computed apart
    assert rho_of.__wrapped__(1.0, 1e-9) == rho_of(1.0, 1e-9)
    # composition adds rho: three fits of epsilon 1 cost less than 3 in epsilon at the same delta
    assert epsilon_of(3 * rho_of(1.0, 1e-9), 1e-9) < 3.0


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "local":
        return open_store(str(tmp_path / "warehouse"))
    bucket = request.getfixturevalue("s3")["bucket"]
    return open_store(f"s3://{bucket}/warehouse", S3Options())


def test_fits_accumulate_until_the_budget_refuses_one(store):
    charge, budget = Charge(1.0, 1e-9), Budget(3.0, 1e-6)
    runs, refusal = [], None
    while refusal is None and len(runs) < 50:
        run_id = f"run{len(runs)}"
        try:
            reserve(store, "patients.visits", run_id, "visits", charge, budget, {"spec": "patients"})
        except BudgetExceeded as error:
            refusal = error
            continue
        settle(store, "patients.visits", run_id, "visits", "charged")
        runs.append(run_id)
    state = read_ledger(store, "patients.visits")
    # as many fits as the composed total allows at the budget's delta, and not one more
    allowed = max(n for n in range(1, 50) if _opendp_epsilon(n * charge.rho, budget.delta) <= budget.epsilon)
    assert len(runs) == allowed and state.rho == pytest.approx(allowed * charge.rho)
    assert state.epsilon(budget.delta) <= budget.epsilon
    message = str(refusal)
    assert "\n" not in message and "patients.visits" in message
    spent = _opendp_epsilon(allowed * charge.rho, budget.delta)
    assert f"spent epsilon {spent:.4g}" in message and "requests epsilon 1" in message
    assert f"remaining {budget.epsilon - spent:.4g}" in message
    assert refusal.exit_code == 1


def test_a_run_id_is_charged_once_and_a_released_reservation_costs_nothing(store):
    charge, budget = Charge(1.0, 1e-9), Budget(10.0, 1e-6)
    first = reserve(store, "l", "same", "t", charge, budget)
    again = reserve(store, "l", "same", "t", charge, budget)  # a retried or re-run fit of the same run
    assert again == first and read_ledger(store, "l").rho == pytest.approx(charge.rho)
    reserve(store, "l", "other", "t", charge, budget)
    settle(store, "l", "other", "t", "released", "input refused before measuring")
    state = read_ledger(store, "l")
    assert state.rho == pytest.approx(charge.rho)  # the released one does not count
    assert [e["status"] for e in state.entries] == ["reserved", "released"]
    assert state.entries[1]["reason"] == "input refused before measuring"
    reserve(store, "l", "other", "t", charge, budget)  # released: that run may reserve again
    assert read_ledger(store, "l").rho == pytest.approx(2 * charge.rho)


RACE_CHARGE, RACE_BUDGET = Charge(2.0, 1e-9), Budget(3.0, 1e-6)  # composed, three such fits fit in the budget


def _race(uri: str, s3_env: dict, run_id: str, start, results) -> None:
    import os

    os.environ.update(s3_env)
    store = open_store(uri, S3Options() if uri.startswith("s3://") else None)
    start.wait()
    try:
        reserve(store, "shared", run_id, "t", RACE_CHARGE, RACE_BUDGET)
        results.put((run_id, "reserved"))
    except BudgetExceeded:
        results.put((run_id, "refused"))


@pytest.mark.parametrize("where", ["local", "s3"])
def test_racing_fits_never_spend_past_the_budget(where, tmp_path, request):
    """Eight processes reserve at once against a budget that holds fewer fits: exactly as many as
    it holds get a reservation, the rest are refused, and the ledger's total stays within it."""
    env = {}
    if where == "local":
        uri = str(tmp_path / "warehouse")
    else:
        bucket = request.getfixturevalue("s3")["bucket"]
        uri = f"s3://{bucket}/warehouse"
        import os

        env = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(8), context.Queue()
    workers = [context.Process(target=_race, args=(uri, env, f"run{i}", start, results)) for i in range(8)]
    for worker in workers:
        worker.start()
    outcome = dict(results.get(timeout=120) for _ in workers)
    for worker in workers:
        worker.join(timeout=60)
    charge, budget = RACE_CHARGE, RACE_BUDGET
    allowed = max(n for n in range(1, 10) if _opendp_epsilon(n * charge.rho, budget.delta) <= budget.epsilon)
    assert allowed == 3
    reserved = sorted(r for r, status in outcome.items() if status == "reserved")
    assert len(reserved) == allowed, outcome
    state = read_ledger(open_store(uri, S3Options() if where == "s3" else None), "shared")
    assert sorted(e["run_id"] for e in state.entries) == reserved
    assert state.epsilon(budget.delta) <= budget.epsilon


def test_budget_command_prints_the_ledger(tmp_path):
    doc = {
        "name": "penguins",
        "tables": {"penguins": {"source": str(PENGUINS_CSV)}},
        "privacy": {"epsilon": 1.0, "budget": {"epsilon": 3.0}},
        "publish": {"uri": str(tmp_path / "warehouse")},
    }
    spec = write_spec(tmp_path, doc)
    store = open_store(str(tmp_path / "warehouse"))
    reserve(store, "penguins.penguins", "abc123", "penguins", Charge(1.0, 1e-9), Budget(3.0, 1e-6))
    settle(store, "penguins.penguins", "abc123", "penguins", "charged")
    out = run_cli("budget", str(spec), "--json")
    assert out.returncode == 0, out.stderr
    (report,) = json.loads(out.stdout)
    assert report["ledger"] == "penguins.penguins" and report["fits"] == 1
    assert report["epsilon_spent"] == pytest.approx(_opendp_epsilon(Charge(1.0, 1e-9).rho, 1e-6))
    assert report["epsilon_remaining"] == pytest.approx(3.0 - report["epsilon_spent"])
    assert [e["run_id"] for e in report["entries"]] == ["abc123"]
    text = run_cli("budget", str(spec))
    assert text.returncode == 0 and "privacy ledger penguins.penguins" in text.stdout and "abc123" in text.stdout
    doc.pop("privacy")
    plain = run_cli("budget", str(write_spec(tmp_path, doc)))
    assert plain.returncode == 2 and "privacy" in plain.stderr


def test_a_fit_refused_before_measuring_is_released_and_one_failing_after_is_charged(tmp_path):
    from synth_ops.errors import InputError
    from synth_ops.privacy.charges import PlannedCharge, charged_fit
    from synth_ops.spec import Spec

    spec = Spec.model_validate(
        {
            "name": "s",
            "tables": {"t": {"source": "t.csv"}},
            "privacy": {"epsilon": 1.0, "budget": {"epsilon": 3.0}},
            "publish": {"uri": str(tmp_path / "warehouse")},
        }
    )
    planned = PlannedCharge("s.t", "t", Charge(1.0, 1e-9), Budget(3.0, 1e-6))
    with pytest.raises(InputError):
        with charged_fit(spec, "refused", planned):
            raise InputError("a column the backend cannot code")
    with pytest.raises(RuntimeError):
        with charged_fit(spec, "crashed", planned):
            raise RuntimeError("after measuring")
    with charged_fit(spec, "fitted", planned) as outcome:
        pass
    store = open_store(str(tmp_path / "warehouse"))
    entries = {e["run_id"]: e for e in read_ledger(store, "s.t").entries}
    assert (entries["refused"]["status"], entries["refused"]["reason"]) == ("released", "fit failed (InputError)")
    assert (entries["crashed"]["status"], entries["crashed"]["reason"]) == ("charged", "fit failed (RuntimeError)")
    assert entries["fitted"]["status"] == "charged" and "reason" not in entries["fitted"]
    assert outcome["fits"] == 2 and outcome["rho_spent"] == pytest.approx(2 * Charge(1.0, 1e-9).rho)
    assert outcome["charge"] == {"epsilon": 1.0, "delta": 1e-9, "rho": pytest.approx(Charge(1.0, 1e-9).rho)}
