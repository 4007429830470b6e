"""The light and dark palettes in static/css/app.css: complete, in step, and legible (WCAG contrast)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings

CSS = Path(settings.BASE_DIR) / "static" / "css" / "app.css"

# (text or border, background, minimum ratio). 4.5:1 for body text, 3:1 for large text and for the
# borders and outlines a person must see to use a control (WCAG 2.1, 1.4.3 and 1.4.11).
TEXT = 4.5
LARGE_OR_UI = 3.0
PAIRS = [
    # pages, cards and columns
    ("--ink", "--bg", TEXT),
    ("--ink", "--panel", TEXT),
    ("--ink", "--column", TEXT),
    ("--muted", "--bg", TEXT),
    ("--muted", "--panel", TEXT),
    ("--muted", "--column", TEXT),
    ("--muted", "--count", TEXT),
    ("--ink", "--hover", TEXT),
    ("--ink", "--selected", TEXT),
    ("--accent", "--bg", TEXT),
    ("--accent", "--panel", TEXT),
    ("--accent", "--selected", TEXT),
    ("--danger", "--panel", TEXT),
    ("--danger", "--bg", TEXT),
    ("--ok", "--panel", TEXT),
    ("--warn", "--panel", TEXT),
    # buttons and form fields
    ("--ink", "--field-bg", TEXT),
    ("--accent-ink", "--accent", TEXT),
    ("--danger-strong-ink", "--danger-strong", TEXT),
    ("--ok-strong-ink", "--ok-strong", TEXT),
    ("--inverse-ink", "--inverse", TEXT),
    ("--field-border", "--field-bg", LARGE_OR_UI),
    ("--field-border", "--panel", LARGE_OR_UI),
    ("--focus", "--bg", LARGE_OR_UI),
    ("--focus", "--panel", LARGE_OR_UI),
    ("--accent", "--column", LARGE_OR_UI),
    # the top bar
    ("--topbar-ink", "--topbar", TEXT),
    ("--topbar-muted", "--topbar", TEXT),
    ("--brand-mark", "--topbar", LARGE_OR_UI),
    # messages, notes, dialogs and toasts
    ("--ok", "--ok-soft", TEXT),
    ("--danger", "--danger-soft", TEXT),
    ("--note-ink", "--note", TEXT),
    ("--toast-ink", "--toast", TEXT),
    ("--toast-ink", "--danger-strong", TEXT),
    ("--toast-ink", "--ok-strong", TEXT),
    ("--ink", "--dropzone", TEXT),
    # badges: status, avatars, labels on thumbnails (the overlay is checked over a white image)
    ("--ink", "--grey-soft", TEXT),
    ("--ink", "--blue-soft", TEXT),
    ("--ink", "--orange-soft", TEXT),
    ("--ink", "--green-soft", TEXT),
    ("--ink", "--red-soft", TEXT),
    ("--blue-soft-ink", "--blue-soft", TEXT),
    ("--orange-soft-ink", "--orange-soft", TEXT),
    ("--overlay-ink", "--overlay", TEXT),
    ("--code-ink", "--code", TEXT),
    # card edges by priority, progress and strip borders against the card
    ("--prio-1", "--panel", LARGE_OR_UI),
    ("--prio-2", "--panel", LARGE_OR_UI),
    ("--ok", "--placeholder", LARGE_OR_UI),
    ("--handle-line", "--handle", LARGE_OR_UI),
    # review marks: numbered badges on the image and beside it
    ("--mark-ink", "--mark", TEXT),
    ("--mark-ink", "--mark-older", TEXT),
]


def _blocks(css: str) -> dict[str, dict[str, str]]:
    """The custom properties of the light, dark and system-dark palettes."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)

    def props(selector: str, text: str) -> dict[str, str]:
        match = re.search(re.escape(selector) + r"\s*\{([^}]*)\}", text)
        assert match, f"app.css has no {selector} block"
        return dict(re.findall(r"(--[\w-]+)\s*:\s*([^;]+?)\s*(?:;|$)", match.group(1)))

    media = re.search(r"@media\s*\(prefers-color-scheme:\s*dark\)\s*\{(.*?\})\s*\}", css, flags=re.S)
    assert media, "app.css has no @media (prefers-color-scheme: dark) block"
    return {
        "light": props(":root", re.sub(r"@media.*", "", css, flags=re.S)),
        "dark": props(":root[data-theme=dark]", css),
        "system-dark": props(":root:not([data-theme=light])", media.group(1)),
    }


def _rgba(value: str, palette: dict[str, str]) -> tuple[float, float, float, float]:
    value = value.strip()
    if value.startswith("var("):
        return _rgba(palette[value[4:-1].strip()], palette)
    if value.startswith("#"):
        digits = value[1:]
        if len(digits) == 3:
            digits = "".join(d * 2 for d in digits)
        return (*(int(digits[i : i + 2], 16) for i in (0, 2, 4)), 1.0)
    match = re.fullmatch(r"rgba?\(([^)]*)\)", value)
    assert match, f"not a colour: {value!r}"
    parts = [float(p) for p in re.split(r"[\s,/]+", match.group(1).strip())]
    return (*parts[:3], parts[3] if len(parts) > 3 else 1.0)


def _over(top, bottom):
    alpha = top[3]
    return tuple(top[i] * alpha + bottom[i] * (1 - alpha) for i in range(3)) + (1.0,)


def _luminance(rgb) -> float:
    def channel(c):
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(foreground: str, background: str, palette: dict[str, str]) -> float:
    white = (255, 255, 255, 1.0)
    back = _over(_rgba(palette[background], palette), white)
    fore = _over(_rgba(palette[foreground], palette), back)
    lighter, darker = sorted((_luminance(fore), _luminance(back)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


PALETTES = _blocks(CSS.read_text())


def test_it_defines_every_colour_for_light_and_dark():
    light, dark = PALETTES["light"], PALETTES["dark"]
    colours = {name for name, value in light.items() if _is_colour(value)}
    assert len(colours) > 30
    assert colours <= set(dark), f"no dark value for {sorted(colours - set(dark))}"
    assert set(dark) <= set(light), f"dark-only properties {sorted(set(dark) - set(light))}"


def test_it_gives_the_system_dark_scheme_the_same_colours_as_the_dark_toggle():
    assert PALETTES["system-dark"] == PALETTES["dark"]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_it_keeps_text_and_borders_legible(scheme):
    palette = {**PALETTES["light"], **PALETTES[scheme]}
    too_faint = [
        f"{fore} on {back}: {ratio:.2f}:1 < {minimum}:1"
        for fore, back, minimum in PAIRS
        if (ratio := contrast(fore, back, palette)) < minimum
    ]
    assert not too_faint, f"{scheme} palette:\n" + "\n".join(too_faint)


def _is_colour(value: str) -> bool:
    return bool(re.fullmatch(r"#[0-9a-fA-F]{3,8}|rgba?\([^)]*\)", value.strip()))


def test_it_uses_the_palette_instead_of_hard_coded_colours():
    """Outside the palette blocks, rules name colours only through var(--…), so dark mode reaches them."""
    css = re.sub(r"/\*.*?\*/", "", CSS.read_text(), flags=re.S)
    rules = re.findall(r"([^{}]+)\{([^{}]*)\}", css)
    hard_coded = [
        f"{selector.strip()} {{ {declaration.strip()} }}"
        for selector, body in rules
        if ":root" not in selector
        for declaration in body.split(";")
        if not declaration.strip().startswith("--")
        and re.search(r"#[0-9a-fA-F]{3,8}\b|\brgba?\(|\bhsla?\(|(?<![\w-])(white|black)(?![\w-])", declaration)
    ]
    assert not hard_coded, "hard-coded colours in app.css (add a palette property):\n" + "\n".join(hard_coded)


def test_it_loads_the_scheme_before_the_first_paint():
    """theme.js runs blocking in <head>, before the stylesheet, so no page flashes the wrong scheme."""
    base = (Path(settings.BASE_DIR) / "templates" / "base.html").read_text()
    head = base.split("</head>")[0]
    script = re.search(r"<script src=\"\{% static 'js/theme.js' %\}\"([^>]*)>", head)
    assert script and "defer" not in script.group(1) and "async" not in script.group(1)
    assert head.index("js/theme.js") < head.index("css/app.css")
    assert 'id="theme-picker"' in base
