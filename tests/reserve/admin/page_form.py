"""What a browser without JavaScript posts for a page's form: every named input, checked box,
selected option and textarea in page order, and only the submit button pressed."""

from __future__ import annotations

from html.parser import HTMLParser


class _FormReader(HTMLParser):
    def __init__(self, form_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.fields: list[tuple[str, str]] = []
        self.select: str | None = None
        self.options: list[tuple[str, bool]] = []
        self.option: tuple[str | None, bool] | None = None
        self.option_text = ""
        self.textarea: str | None = None
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "form" and named.get("id") == self.form_id:
            self.inside = True
        if not self.inside:
            return
        name = named.get("name")
        if tag == "input" and name:
            kind = named.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in named:
                    self.fields.append((name, named.get("value") or "on"))
            elif kind not in ("submit", "button", "file"):
                self.fields.append((name, named.get("value") or ""))
        elif tag == "select" and name:
            self.select, self.options = name, []
        elif tag == "option" and self.select is not None:
            self.option, self.option_text = (named.get("value"), "selected" in named), ""
        elif tag == "textarea" and name:
            self.textarea, self.text = name, ""

    def _close_option(self) -> None:
        if self.option is not None:
            value, selected = self.option
            self.options.append((self.option_text.strip() if value is None else value, selected))
            self.option = None

    def handle_endtag(self, tag: str) -> None:
        if not self.inside:
            return
        if tag == "option":
            self._close_option()
        elif tag == "select" and self.select is not None:
            self._close_option()
            chosen = [value for value, selected in self.options if selected] or [value for value, _ in self.options[:1]]
            self.fields += [(self.select, value) for value in chosen]
            self.select = None
        elif tag == "textarea" and self.textarea is not None:
            # A browser drops the newline that follows <textarea>.
            self.fields.append((self.textarea, self.text.removeprefix("\r\n").removeprefix("\n")))
            self.textarea = None
        elif tag == "form":
            self.inside = False

    def handle_data(self, data: str) -> None:
        if self.textarea is not None:
            self.text += data
        elif self.option is not None:
            self.option_text += data


def posted(
    html: str, *, form_id: str, button: tuple[str, str], changes: dict[str, str | list[str]] | None = None
) -> dict[str, list[str]]:
    """The form's data as submitted with `button` (name, value), with `changes` typed over it."""
    reader = _FormReader(form_id)
    reader.feed(html)
    data: dict[str, list[str]] = {}
    for name, value in reader.fields:
        data.setdefault(name, []).append(value)
    data.pop("_save", None)
    data[button[0]] = [button[1]]
    for name, typed in (changes or {}).items():
        data[name] = typed if isinstance(typed, list) else [typed]
    return data
