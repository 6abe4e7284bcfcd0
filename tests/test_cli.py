"""The `refute` command, subcommand by subcommand (the DAG-running ones also in test_loop.py)."""

import re

import pytest
import yaml

from conftest import ROOT, plan_of, prediction_records, refute_cli, verdict_record, write_records, write_yaml
from refute import cli


@pytest.fixture
def refute(tmp_path, monkeypatch, capsys):
    """`refute ...` in-process in a fresh project folder: (exit code, stdout, stderr)."""
    monkeypatch.chdir(tmp_path)

    def call(*args: str):
        code = cli.main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    return call


def test_new_scaffolds_a_valid_commented_hypothesis(tmp_path):
    out = refute_cli(tmp_path, "new", "my-claim", "--title", "Wide nets: faster # or not?")
    assert out.returncode == 0, out.stderr
    path = tmp_path / "hypotheses" / "my-claim.yaml"
    assert out.stdout.splitlines()[0] == "hypotheses/my-claim.yaml"
    text = path.read_text()
    assert text.count("\n#") > 3 and "# the falsifiable claim" in text  # commented, field by field
    data = yaml.safe_load(text)
    assert data["id"] == "my-claim" and data["title"] == "Wide nets: faster # or not?"
    assert refute_cli(tmp_path, "check").returncode == 0


def test_new_never_replaces_a_file_and_wants_a_slug(tmp_path, refute):
    assert refute("new", "a")[0] == 0
    before = (tmp_path / "hypotheses" / "a.yaml").read_text()
    code, _, err = refute("new", "a", "--title", "other")
    assert code == 1 and "already exists" in err
    assert (tmp_path / "hypotheses" / "a.yaml").read_text() == before
    code, _, err = refute("new", "Not A Slug")
    assert code == 1 and "must be a slug" in err


def test_check_lists_every_problem_by_file_line_and_field(tmp_path, tiny, refute):
    write_yaml(tmp_path / "hypotheses" / "good.yaml", {**tiny, "id": "good"})
    bad = {**tiny, "id": "bad", "train": {**tiny["train"], "lr": -1}}
    write_yaml(tmp_path / "hypotheses" / "bad.yaml", bad)
    write_yaml(tmp_path / "hypotheses" / "orphan.yaml", {**tiny, "id": "orphan", "refines": "nobody", "seeds": 0})
    code, _, err = refute("check")
    assert code == 1
    lines = err.splitlines()[1:]
    assert len(lines) == 2, err
    assert re.fullmatch(r"hypotheses/bad.yaml:\d+: train.lr: must be > 0", lines[0])
    assert re.fullmatch(r"hypotheses/orphan.yaml:\d+: seeds: must be between 1 and 10000", lines[1])
    (tmp_path / "hypotheses" / "bad.yaml").unlink()
    (tmp_path / "hypotheses" / "orphan.yaml").unlink()
    code, out, _ = refute("check")
    assert code == 0 and out.startswith("1 hypotheses valid")


def test_refine_writes_the_draft_and_says_why(tmp_path, tiny, refute):
    path = write_yaml(tmp_path / "hypotheses" / "tiny.yaml", tiny)
    from refute.spec.loader import load_hypothesis

    h = load_hypothesis(path)
    preds = prediction_records(h, {"fits": "inconclusive"})
    write_records(tmp_path / "results", h, verdict_record(h, preds, "INCONCLUSIVE"), preds)
    code, out, err = refute("refine", "tiny")
    assert code == 0, err
    assert out.splitlines()[:2] == ["hypotheses/tiny-more-seeds.yaml", "Next experiment: more seeds."]
    assert not (tmp_path / "results" / "tiny-more-seeds").exists()  # drafted, not run
    code, _, err = refute("refine", "nope")
    assert code == 1 and "no hypothesis 'nope'" in err


def test_report_prints_the_path_or_says_how_to_make_it(tmp_path, tiny, refute, monkeypatch):
    write_yaml(tmp_path / "hypotheses" / "h.yaml", {**tiny, "id": "h"})
    code, _, err = refute("report", "h")
    assert code == 1 and "refute run h" in err
    (tmp_path / "results" / "h").mkdir(parents=True)
    (tmp_path / "results" / "h" / "report.html").write_text("<html></html>")
    (tmp_path / "results" / "index.md").write_text("# index")
    assert refute("report", "h")[1] == "results/h/report.html\n"
    assert refute("report", "--md")[1] == "results/index.md\n"
    opened = []
    monkeypatch.setattr("webbrowser.open", opened.append)
    assert refute("report", "h", "--open")[0] == 0
    assert opened == [(tmp_path / "results" / "h" / "report.html").resolve().as_uri()]


def test_run_refuses_unknown_hypotheses_and_dry_runs_with_the_profile(tmp_path, tiny, refute):
    write_yaml(tmp_path / "hypotheses" / "tiny.yaml", tiny)
    code, _, err = refute("run", "nope", "--snakefile", str(ROOT / "Snakefile"))
    assert code == 1 and "unknown hypothesis nope; known: tiny" in err
    dry = refute_cli(tmp_path, "run", "-n", "tiny", "--snakefile", str(ROOT / "Snakefile"))
    assert dry.returncode == 0, dry.stderr
    assert f"--workflow-profile {ROOT / 'profiles' / 'default'}" in dry.stderr
    assert re.search(r"^train\s+1$", dry.stdout, re.M) and "index" not in dry.stdout  # only what tiny needs
    assert not (tmp_path / "results" / "tiny").exists()
    code, _, err = refute("run", "--profile", "nowhere", "--snakefile", str(ROOT / "Snakefile"))
    assert code == 1 and "no profile 'nowhere'" in err


def test_run_without_a_snakefile_says_where_to_run(tmp_path, tiny, refute):
    write_yaml(tmp_path / "hypotheses" / "tiny.yaml", tiny)
    code, _, err = refute("run")
    assert code == 1 and "no Snakefile" in err


def test_a_subcommand_is_one_registered_function(capsys):
    @cli.command("hello", "say hello", cli.arg("name"), cli.HYPOTHESES)
    def hello(a):
        print(f"hello {a.name} from {a.hypotheses}")
        return 3

    try:
        assert cli.main(["hello", "you"]) == 3
        assert capsys.readouterr().out == "hello you from hypotheses\n"
    finally:
        del cli.COMMANDS["hello"]
    assert set(cli.COMMANDS) >= {"new", "check", "run", "status", "refine", "report"}


def test_report_of_an_unknown_id_says_so_and_suggests_one(tmp_path, tiny, refute):
    write_yaml(tmp_path / "hypotheses" / "wide-nets.yaml", {**tiny, "id": "wide-nets"})
    code, _, err = refute("report", "wide-net")
    assert code == 1 and "unknown hypothesis 'wide-net'" in err and "did you mean wide-nets?" in err
    code, _, err = refute("report", "zzz")
    assert code == 1 and "known: wide-nets" in err
    code, _, err = refute("watch", "wide-net")
    assert code == 1 and "did you mean wide-nets?" in err


def test_version_names_the_installed_package(tmp_path):
    out = refute_cli(tmp_path, "--version")
    assert out.returncode == 0 and re.fullmatch(r"refute \S+\n", out.stdout)


def test_status_marks_post_hoc_verdicts_and_speaks_json(tmp_path, tiny, refute):
    import json

    from refute.spec.loader import load_hypothesis

    h = load_hypothesis(write_yaml(tmp_path / "hypotheses" / "tiny.yaml", tiny))
    preds = [p.model_copy(update={"seen": ["0123456789abcdef: trained before the seal"]})
             for p in prediction_records(h, {"fits": "holds"})]
    write_records(tmp_path / "results", h, verdict_record(h, preds, "SUPPORTED", post_hoc=True), preds)
    code, out, err = refute("status", "--snakefile", str(ROOT / "Snakefile"))
    assert code == 0, err
    assert re.search(r"^tiny\s+\S.*\s+SUPPORTED \(post hoc\) \(seen data\)\s", out, re.M), out
    code, out, err = refute("status", "--json", "--snakefile", str(ROOT / "Snakefile"))
    rows = json.loads(out)
    assert [(r["id"], r["verdict"], r["post_hoc"], r["seen_data"]) for r in rows] == [("tiny", "SUPPORTED", True, True)]
    assert rows[0]["state"] in ("stale", "done") and rows[0]["report"] is None


def test_the_summary_of_a_run_flags_verdicts_that_do_not_count_as_preregistered(tmp_path, tiny):
    from refute.loop.outcomes import failing, format_outcomes, outcomes, parse_fail_on

    h = plan_of(tiny, "hypotheses/tiny.yaml")
    preds = [p.model_copy(update={"seen": ["0123456789abcdef: trained before the seal"]})
             for p in prediction_records(h, {"fits": "holds"})]
    write_records(tmp_path / "results", h, verdict_record(h, preds, "SUPPORTED", post_hoc=True), preds)
    found = outcomes(tmp_path / "results", ["tiny", "never-run"])
    assert format_outcomes(found).splitlines() == ["tiny       SUPPORTED     no report  (post hoc, seen data)",
                                                   "never-run  no verdict    no report"]
    assert [o.id for o in failing(found, parse_fail_on("missing,refuted"))] == ["never-run"]
    with pytest.raises(ValueError, match="unknown verdict wrong"):
        parse_fail_on("invalid,wrong")
