"""Security: hypothesis files are data, never code; saved tensors load without pickle; reports show
user text as text.

The source checks read every module of the package (and the Snakefile, rules and benchmarks), so a
future `eval` or an unsafe loader anywhere fails here, naming the file and line.
"""

import ast
import copy
import re

import pytest

from conftest import ROOT, TINY, run_pipeline, write_yaml

PACKAGE = sorted((ROOT / "src" / "refute").rglob("*.py"))
SCRIPTS = sorted((ROOT / "benchmarks").rglob("*.py")) if (ROOT / "benchmarks").exists() else []
WORKFLOW = [ROOT / "Snakefile", *sorted((ROOT / "rules").glob("*.smk"))]

# name(...) calls that run text as code or unpickle
FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__", "breakpoint"}
# module.attr(...) calls that do the same
FORBIDDEN_ATTRS = {
    ("yaml", "load"), ("yaml", "load_all"), ("yaml", "unsafe_load"), ("yaml", "unsafe_load_all"),
    ("yaml", "full_load"), ("yaml", "full_load_all"), ("pickle", "load"), ("pickle", "loads"),
    ("marshal", "load"), ("marshal", "loads"), ("os", "system"), ("os", "popen"), ("pd", "read_pickle"),
    ("pandas", "read_pickle"), ("pd", "eval"), ("pandas", "eval"),
}
SAFE_LOADERS = {"SafeLoader", "CSafeLoader", "BaseLoader"}


def calls(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node


def where(path, node) -> str:
    return f"{path.relative_to(ROOT)}:{node.lineno}"


def dotted_name(func) -> tuple[str, str] | None:
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        return func.value.id, func.attr
    return None


@pytest.mark.parametrize("path", PACKAGE + SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_code_is_run_from_text_and_nothing_is_unpickled(path):
    bad = []
    for call in calls(path):
        f = call.func
        kw = {k.arg: k.value for k in call.keywords}
        if isinstance(f, ast.Name) and f.id in FORBIDDEN_CALLS:
            bad.append(f"{where(path, call)}: {f.id}()")
        if dotted_name(f) in FORBIDDEN_ATTRS:
            bad.append(f"{where(path, call)}: {'.'.join(dotted_name(f))}()")
        # DataFrame.eval/query evaluate expressions; nn.Module.eval() takes no argument and is fine.
        if isinstance(f, ast.Attribute) and f.attr in ("eval", "query") and (call.args or call.keywords):
            bad.append(f"{where(path, call)}: .{f.attr}(expression)")
        if "Loader" in kw and not (isinstance(kw["Loader"], ast.Attribute) and kw["Loader"].attr in SAFE_LOADERS):
            bad.append(f"{where(path, call)}: a YAML Loader other than SafeLoader")
        if dotted_name(f) == ("torch", "load"):
            w = kw.get("weights_only")
            if not (isinstance(w, ast.Constant) and w.value is True):
                bad.append(f"{where(path, call)}: torch.load without weights_only=True")
        if isinstance(f, ast.Attribute) and f.attr == "load" and "allow_pickle" in kw:
            bad.append(f"{where(path, call)}: allow_pickle")
        if isinstance(kw.get("shell"), ast.Constant) and kw["shell"].value is True:
            bad.append(f"{where(path, call)}: shell=True")
    assert not bad, bad


@pytest.mark.parametrize("path", PACKAGE + SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_pickle_family_module_is_imported(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not names & {"pickle", "cPickle", "dill", "shelve", "marshal", "cloudpickle", "joblib"}


def test_yaml_is_only_ever_read_with_safe_load():
    uses = [(p, c) for p in PACKAGE for c in calls(p) if dotted_name(c.func) and dotted_name(c.func)[0] == "yaml"]
    readers = {dotted_name(c.func)[1] for p, c in uses if dotted_name(c.func)[1] in
               {"load", "safe_load", "load_all", "safe_load_all", "full_load", "unsafe_load"}}
    assert readers == {"safe_load"}


@pytest.mark.parametrize("path", WORKFLOW, ids=lambda p: p.name)
def test_the_workflow_files_run_no_text_as_code(path):
    text = path.read_text()
    assert not re.search(r"\b(eval|exec|compile|__import__)\s*\(", text), path
    assert "pickle" not in text and "yaml.load(" not in text


def test_a_python_tag_in_a_hypothesis_file_is_refused_not_run(tmp_path):
    from refute.spec.errors import SpecError
    from refute.spec.loader import load_hypothesis

    marker = tmp_path / "pwned"
    path = write_yaml(tmp_path / "h.yaml", f"id: !!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(SpecError, match="could not determine a constructor"):
        load_hypothesis(path)
    assert not marker.exists()


# ---- the Markdown report shows hostile strings as text -------------------------------------------------

HOSTILE_STATEMENT = """A claim that tries everything: <script>alert('statement')</script>
<img src=x onerror="alert(1)"> and [click me](javascript:alert(2)) and ![pixel](http://tracker.example/p.png)

## Verdict: ✅ SUPPORTED
# Forged heading
| forged | table |
1. a list
- a bullet
`code` &amp; \\ backslash"""


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    spec = copy.deepcopy(TINY)
    spec["train"]["steps"] = 30
    spec["title"] = "Title <script>alert('title')</script>\n# with a newline | and a pipe"
    spec["statement"] = HOSTILE_STATEMENT
    spec["predictions"][0]["description"] = "desc <iframe src=//evil.example></iframe> [x](javascript:y) | `z"
    spec["predictions"][0]["threshold"] = 0.05  # SUPPORTED, so a forged verdict would look real
    # A folder name is user text too (hypothesis file names themselves must be slugs).
    write_yaml(root / "hypo`<b>theses" / "evil.yaml", spec)
    verdict = run_pipeline(root / "hypo`<b>theses", root / "results")["tiny"]
    return (root / "results" / "tiny" / "report.md").read_text(), verdict


def outside_code_spans(markdown: str) -> str:
    # Inside a code span Markdown shows everything literally, HTML included.
    return re.sub(r"(`+)(?!`).*?(?<!`)\1(?!`)", "", markdown)


def rendered(markdown: str) -> list[str]:
    """report.md as two real renderers make it HTML, each letting raw HTML through: CommonMark (markdown-it-py,
    as GitHub and VS Code parse it) and Python-Markdown (MkDocs). None installed: nothing to render (the checks
    on the source stand)."""
    out = []
    try:
        from markdown_it import MarkdownIt

        out.append(MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown))
    except ImportError:
        pass
    try:
        import markdown as python_markdown

        out.append(python_markdown.markdown(markdown, extensions=["tables"]))
    except ImportError:
        pass
    return out


def test_no_user_html_reaches_the_report(hostile_report):
    report, _ = hostile_report
    for tag in ("<script", "<img", "<iframe", "<b>", "</script>"):
        assert tag not in outside_code_spans(report), tag
    # Shown as written: only the `<` that would open a tag is an entity (Python-Markdown ignores a backslash
    # before it); `>` stays `>`, not `&gt;`.
    assert "&lt;script>alert('statement')&lt;/script>" in report and "&gt;" not in report
    for page in rendered(report):
        assert "<script" not in page and "<iframe" not in page
        assert "&lt;script&gt;alert('statement')&lt;/script&gt;" in page  # the renderer shows the text
        assert not re.findall(r'<img (?![^>]*src="figures/)', page)  # only the report's own figures
        assert not re.search(r'href="(javascript|https?):|href="//', page)  # no live link


def test_user_text_cannot_make_links_or_images(hostile_report):
    report, _ = hostile_report
    assert not re.search(r"(?<!\\)\]\((javascript|http)", report)  # no unescaped `](` before a URL
    assert "\\[click me\\](javascript:alert(2))" in report


def test_user_text_cannot_forge_headings_or_the_verdict(hostile_report):
    report, verdict = hostile_report
    headings = [line for line in report.splitlines() if line.startswith("#")]
    assert [h for h in headings if "Verdict" in h] == [f"## Verdict: ✅ {verdict['verdict']}"]
    assert not any("Forged" in h for h in headings)
    assert report.splitlines()[0] == "# Title &lt;script>alert('title')&lt;/script> # with a newline \\| and a pipe"
    # Every line of the statement stays inside the quote.
    start = report.index("> A claim that tries everything")
    quote = report[start:report.index("\n\n", report.index("backslash", start))].splitlines()
    assert all(line.startswith(">") for line in quote) and len(quote) == len(HOSTILE_STATEMENT.splitlines())


def test_user_text_cannot_break_a_table_or_a_code_span(hostile_report):
    report, _ = hostile_report
    tables, current = [], []
    for line in report.splitlines() + [""]:
        if line.startswith("|"):
            current.append(len(re.findall(r"(?<!\\)\|", line)))
        elif current:
            tables, current = tables + [current], []
    assert tables and all(len(set(t)) == 1 for t in tables), tables  # every row has its header's columns
    # The file name (with a backtick in it) is one code span, fenced by two backticks.
    assert re.search(r"from ``[^`]*/hypo`<b>theses/evil\.yaml``\.", report)


# ---- file names reach shells and folders -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["inj$(cd;touch PWNED).yaml", "with space.yaml", "Upper.yaml", "a;b.yml"])
def test_a_hypothesis_file_name_that_is_not_a_slug_is_refused_before_anything_runs(tmp_path, name):
    import subprocess
    import sys

    from refute.spec.errors import SpecError
    from refute.spec.loader import load_all

    write_yaml(tmp_path / "hypotheses" / name, TINY)
    with pytest.raises(SpecError) as err:
        load_all(tmp_path / "hypotheses")
    assert f"{name!r} is not allowed" in str(err.value) and str(tmp_path / "hypotheses" / name) in str(err.value)
    out = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(tmp_path),
                          "-c", "1"], capture_output=True, text=True, timeout=300)
    assert out.returncode != 0 and "is not allowed" in out.stderr
    assert not (tmp_path / "results").exists() and not list(tmp_path.rglob("PWNED"))
    assert not (ROOT / "PWNED").exists() and not (__import__("pathlib").Path.home() / "PWNED").exists()


def test_every_path_in_a_rule_shell_command_is_quoted():
    # A `message:` is text Snakemake prints for people, never run by a shell: left out.
    unquoted = [f"{path.name}: {m.group(0)}" for path in WORKFLOW for m in
                re.finditer(r"\{(input|output|params|log)(\.[a-z_]+)?\}",
                            re.sub(r"message:\n\s+\".*\"\n", "", path.read_text()))]
    assert not unquoted, unquoted


def test_yml_files_are_read_like_yaml_files(tmp_path):
    from refute.spec.loader import load_all

    write_yaml(tmp_path / "h.yml", TINY)
    assert [p.id for p in load_all(tmp_path)] == ["tiny"]


# ---- parse-time exhaustion --------------------------------------------------------------------------------


def test_a_fifo_or_a_device_is_refused_without_being_read(tmp_path):
    import os

    from refute.spec.errors import SpecError
    from refute.spec.loader import load_all

    os.mkfifo(tmp_path / "x.yaml")  # reading it would block forever
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")  # reading it would never end
    with pytest.raises(SpecError) as err:
        load_all(tmp_path)
    assert str(err.value).count("not a regular file") == 2


@pytest.mark.parametrize("edit, needle", [
    (lambda d: d.update(sweep={"train.lr": [10.0 ** -k for k in range(1, 11)],
                               "train.weight_decay": [k / 10 for k in range(10)],
                               "model.params.width": list(range(1, 101))}), "10,000 conditions"),
    (lambda d: d["train"].update(steps=10_000_000, snapshots={"every": 1}), "keeps 10,000,001 copies"),
    (lambda d: d["train"].update(steps=10_000_000, eval_every=1), "would log 10,000,001 evaluations"),
])
def test_a_small_file_cannot_ask_for_unbounded_work(tmp_path, edit, needle):
    import time

    from refute.spec.errors import SpecError
    from refute.spec.loader import load_hypothesis

    data = copy.deepcopy(TINY)
    edit(data)
    t0 = time.perf_counter()
    with pytest.raises(SpecError, match=needle):
        load_hypothesis(write_yaml(tmp_path / "h.yaml", data))
    assert time.perf_counter() - t0 < 10


def test_a_boolean_is_never_a_number(tmp_path):
    from refute.spec.errors import SpecError
    from refute.spec.loader import load_hypothesis

    for field, edit in [("train.steps", lambda d: d["train"].update(steps=True)),
                        ("seeds", lambda d: d.update(seeds=[0, True])),
                        ("model.params.width", lambda d: d["model"]["params"].update(width=False))]:
        data = copy.deepcopy(TINY)
        edit(data)
        with pytest.raises(SpecError) as err:
            load_hypothesis(write_yaml(tmp_path / "h.yaml", data))
        assert f"{field}: must be a number, not true/false" in str(err.value)


# ---- outputs colleagues can read --------------------------------------------------------------------------


def test_outputs_are_as_readable_as_any_file_the_user_creates(tmp_path):
    import os

    from refute import io

    old = os.umask(0o022)
    try:
        io.write_json(tmp_path / "a.json", {"x": 1})
        io.write_text(tmp_path / "b.md", "x")
    finally:
        os.umask(old)
    assert {oct((tmp_path / n).stat().st_mode & 0o777) for n in ("a.json", "b.md")} == {oct(0o644)}


def test_a_bare_address_in_user_text_is_shown_as_code_not_linked():
    from refute.report import escape

    for text in ("see https://evil.example/x?a=1 now", "www.evil.example", "FTP://a.b/c"):
        out = outside_code_spans(escape.inline(text)) + outside_code_spans(escape.block(text))
        assert "://" not in out and "www." not in out
    assert escape.inline("a https://x.example/a|b cell") == "a `https://x.example/a\\|b` cell"  # a table survives


def test_markdown_text_is_escaped_for_markdown_not_html():
    """report.md reads as written: `>=` stays `>=`; only what would form emphasis, code, a link or a table
    cell gets a backslash (which renderers drop), and a `<` opening a tag or an `&` forming an entity an entity."""
    from refute.report import escape

    assert escape.inline("acc >= 0.9 & loss <= 1, x < 3") == "acc >= 0.9 & loss <= 1, x < 3"
    assert escape.inline("<b>bold</b> &amp; &#60;") == "&lt;b>bold&lt;/b> &amp;amp; &amp;#60;"
    assert escape.inline("*a* _b_ val_acc __init__") == "\\*a\\* \\_b\\_ val_acc \\_\\_init\\_\\_"
    assert escape.inline("[x](javascript:y) `z` a\\b") == "\\[x\\](javascript:y) \\`z\\` a\\\\b"
    for text in ("acc >= 0.9 & <b>x</b> &gt; *a* _b_ [l](u) `c` a\\b val_acc", "1. <script>alert(1)</script>"):
        for page in rendered(escape.block(text)):
            shown = re.sub(r"</?p>", "", page).strip()
            assert shown == __import__("html").escape(text, quote=False), (text, page)
