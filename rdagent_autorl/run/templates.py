"""The training-script templates in `templates/`: what their CONFIG block holds, and how to write a
copy with config overrides applied. Which templates a task offers is the task's own declaration
(`TaskSpec.templates`).

A template is a plain script with one `CONFIG = {...}` literal (see templates/README.md). Overrides
are written into that literal, in place, so the rendered script still reads top to bottom and runs
by hand with no environment tricks; the key comments stay where they were.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rdagent_autorl.settings import get_settings

# Imported by the templates; copied next to them. The online templates need only common.py: they play
# through the task's environment interface, the grader's own (as rewards.py uses the grader's scoring code).
SUPPORT_FILES = ("common.py", "rewards.py")
ENTRY = "train.py"  # the name of the rendered script in a code folder


class TemplateError(ValueError):
    pass


@dataclass(frozen=True)
class TemplateInfo:
    name: str
    path: Path
    summary: str  # first paragraph of the module docstring
    config: dict[str, Any]  # the CONFIG defaults


def _config_node(tree: ast.Module) -> ast.Dict:
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id == "CONFIG" and isinstance(node.value, ast.Dict)):
            return node.value
    raise TemplateError("no `CONFIG = {...}` literal at the top level")


def template_info(name: str) -> TemplateInfo:
    path = get_settings().templates_dir / f"{name}.py"
    if not path.exists():
        raise TemplateError(f"unknown template {name!r}")
    tree = ast.parse(path.read_text())
    doc = (ast.get_docstring(tree) or "").split("\n\n")[0].replace("\n", " ")
    node = _config_node(tree)
    config = {ast.literal_eval(k): ast.literal_eval(v) for k, v in zip(node.keys, node.values)}
    return TemplateInfo(name=name, path=path, summary=doc, config=config)


def templates_for(task_templates: tuple[str, ...]) -> list[TemplateInfo]:
    """The templates a task offers (its `templates`), read from templates/; a task that offers none
    cannot be run by the loop, so that is an error here rather than a driver that can never answer."""
    if not task_templates:
        raise TemplateError("the task offers no training templates")
    return [template_info(name) for name in task_templates]


def check_overrides(info: TemplateInfo, overrides: dict[str, Any]) -> str | None:
    """An error message when overrides name keys the template does not have, else None."""
    unknown = sorted(set(overrides) - set(info.config))
    if unknown:
        return f"template {info.name!r} has no config keys {unknown}; its keys are {sorted(info.config)}"
    return None


def with_config(source: str, overrides: dict[str, Any]) -> str:
    """`source` with the values of CONFIG's keys replaced by `overrides` (Python literals)."""
    tree = ast.parse(source)
    node = _config_node(tree)
    lines = source.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    edits = []
    for key, value in zip(node.keys, node.values):
        name = ast.literal_eval(key)
        if name in overrides:
            start = offsets[value.lineno - 1] + len(lines[value.lineno - 1].encode()[:value.col_offset].decode())
            end = offsets[value.end_lineno - 1] + len(lines[value.end_lineno - 1].encode()[:value.end_col_offset].decode())
            edits.append((start, end, repr(overrides[name])))
    missing = set(overrides) - {ast.literal_eval(k) for k in node.keys}
    if missing:
        raise TemplateError(f"CONFIG has no keys {sorted(missing)}")
    for start, end, text in sorted(edits, reverse=True):
        source = source[:start] + text + source[end:]
    return source


def render_template(name: str, overrides: dict[str, Any], dest: Path) -> dict[str, str]:
    """Write `name` as dest/train.py (overrides applied) with its support files; returns {file: content}."""
    info = template_info(name)
    if error := check_overrides(info, overrides):
        raise TemplateError(error)
    dest.mkdir(parents=True, exist_ok=True)
    files = {ENTRY: with_config(info.path.read_text(), overrides)}
    for support in SUPPORT_FILES:
        files[support] = (info.path.parent / support).read_text()
    for rel, text in files.items():
        (dest / rel).write_text(text)
    return files

