"""The run comparison's query: which runs, and the window of seconds to draw at full resolution."""

from __future__ import annotations

from typing import Any

from django import forms


class RunsCompareForm(forms.Form):
    """``?ids=3,5,9`` (or ``ids=3&ids=5``, as the run list's checkboxes submit) and an optional
    ``baseline`` among them. ``cleaned_data["ids"]`` is a list of distinct ids in the given order."""

    ids = forms.CharField(required=False)
    baseline = forms.IntegerField(required=False, min_value=1)

    def __init__(self, query: Any) -> None:
        # Join repeated ids parameters so both URL shapes validate the same way.
        data = {"ids": ",".join(query.getlist("ids")), "baseline": query.get("baseline", "")}
        super().__init__(data)

    def clean_ids(self) -> list[int]:
        from runs.selectors.analysis import MAX_COMPARE_RUNS

        raw = [part.strip() for part in self.cleaned_data["ids"].split(",") if part.strip()]
        if not all(part.isascii() and part.isdigit() and len(part) < 12 for part in raw):
            raise forms.ValidationError("Run ids must be whole numbers separated by commas, e.g. ?ids=3,5,9.")
        ids = list(dict.fromkeys(int(part) for part in raw))
        if len(ids) < 2:
            raise forms.ValidationError("Choose at least 2 runs to compare.")
        if len(ids) > MAX_COMPARE_RUNS:
            raise forms.ValidationError(
                f"Compare at most {MAX_COMPARE_RUNS} runs at a time; {len(ids)} were given."
            )
        return ids

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        ids, baseline = data.get("ids"), data.get("baseline")
        if ids and baseline is not None and baseline not in ids:
            self.add_error("baseline", "The baseline must be one of the compared runs.")
        return data


class CompareWindowForm(RunsCompareForm):
    """The comparison overlays' zoom: ``?ids=3,5&from=120&to=480`` (seconds since the start)."""

    MAX_SPAN = 7 * 24 * 3600

    start = forms.IntegerField(min_value=0, max_value=MAX_SPAN)
    end = forms.IntegerField(min_value=0, max_value=MAX_SPAN)

    def __init__(self, query: Any) -> None:
        super().__init__(query)
        self.data = {**self.data, "start": query.get("from", ""), "end": query.get("to", "")}

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start is not None and end is not None and end <= start:
            self.add_error("end", "The end of the window must be after its start.")
        return data
