"""Each opt-in repair on ordinary tools: the default pipeline runs the model's call as written; the
repair, when enabled, changes it and records what it changed (the issue 22 cases where a repair harms)."""

from __future__ import annotations

from tinycrew.agents import CallRecord, PlannedCall
from tinycrew.policies import (
    CompleteUSPlaces,
    ConvertUnits,
    DropUnfoundedOptions,
    FillStatedOptions,
    OverusedNumbers,
    PercentAsFraction,
    PolicyPipeline,
    default_policies,
    repair_policies,
)
from tinycrew.tools import ToolRegistry, tool


@tool
def translate(text: str, target_lang: str = "en") -> str:
    """Translate a text.

    Args:
        text: The text to translate.
        target_lang: The language code to translate into, e.g. 'fr'. Default is 'en'.
    """
    return f"[{target_lang}] {text}"


@tool(side_effect=True)
def share_doc(doc: str, public: bool = False) -> str:
    """Share a document with the team.

    Args:
        doc: The document's name.
        public: Also publish it on the web for everyone.
    """
    return f"shared {doc}" + (" publicly" if public else "")


@tool
def get_weather(location: str) -> str:
    """The current weather.

    Args:
        location: The city and state, e.g. San Francisco, CA
    """
    return f"sunny in {location}"


@tool
def set_volume(level: float) -> str:
    """Set the speaker volume.

    Args:
        level: Volume from 0 to 100.
    """
    return f"volume {level}"


@tool
def raise_thermostat(delta: float) -> str:
    """Raise the thermostat's set point.

    Args:
        delta: The change in degrees Celsius.
    """
    return f"raised by {delta}"


@tool
def add_task(title: str, priority: str = "normal") -> str:
    """Add a task to the to-do list.

    Args:
        title: What to do.
        priority: 'low', 'normal' or 'high'. Default is 'normal'.
    """
    return f"added {title} ({priority})"


@tool
def rectangle_area(width: float, height: float) -> float:
    """The area of a rectangle (a square has equal sides).

    Args:
        width: The width.
        height: The height.
    """
    return width * height


@tool
def book_table(party_size: int) -> str:
    """Book a restaurant table.

    Args:
        party_size: How many people.
    """
    return f"table for {party_size}"


@tool
def count_words(text: str, language: str = "english") -> int:
    """Count the words of a text.

    Args:
        text: The text.
        language: The text's language.
    """
    return len(text.split())


REGISTRY = ToolRegistry(
    [
        translate,
        share_doc,
        get_weather,
        set_volume,
        raise_thermostat,
        add_task,
        rectangle_area,
        book_table,
        count_words,
    ]
)


def planned(name: str, **arguments: object) -> PlannedCall:
    return PlannedCall(id=1, name=name, arguments=dict(arguments))


def run(policies: list, task: str, call: PlannedCall, calls: list[CallRecord] | None = None, tools=None):
    return PolicyPipeline(policies).check(
        [call], REGISTRY, task, calls or [], tools=tools or REGISTRY.names()
    )


def assert_default_keeps(task: str, call: PlannedCall) -> None:
    checked = run(default_policies(), task, call)
    assert checked.run == [call] and checked.run[0].rewrites == [] and not checked.refused


def assert_rewrites(policy, task: str, call: PlannedCall, changed: dict) -> None:
    [ran] = run([policy], task, call).run
    assert ran.arguments == {**call.arguments, **changed}
    [rewrite] = ran.rewrites
    assert (
        rewrite.policy == policy.name and rewrite.before == call.arguments and rewrite.after == ran.arguments
    )
    assert rewrite.reason and ran.model_arguments == call.arguments


def test_dropping_unfounded_options_drops_a_target_language_the_task_names_in_words() -> None:
    task = "Translate 'good morning' into German"
    call = planned("translate", text="good morning", target_lang="de")
    assert_default_keeps(task, call)
    [ran] = run([DropUnfoundedOptions()], task, call).run
    assert ran.arguments == {"text": "good morning"}  # runs in English, the default
    assert ran.rewrites[0].before == call.arguments and "target_lang='de'" in ran.rewrites[0].reason


def test_dropping_unfounded_options_helps_with_an_invented_option() -> None:
    task = "How many words are in 'to be or not to be'?"
    call = planned("count_words", text="to be or not to be", language="klingon")
    assert run([DropUnfoundedOptions()], task, call).run[0].arguments == {"text": "to be or not to be"}


def test_filling_stated_options_makes_a_private_document_public() -> None:
    task = "Share my publication draft with the team"
    call = planned("share_doc", doc="publication draft")
    assert_default_keeps(task, call)
    assert_rewrites(FillStatedOptions(), task, call, {"public": True})


def test_filling_stated_options_adds_a_priority_from_high_level() -> None:
    task = "Add a task to review the high-level design"
    call = planned("add_task", title="review the high-level design")
    assert_default_keeps(task, call)
    assert_rewrites(FillStatedOptions(), task, call, {"priority": "high"})


def test_completing_places_guesses_the_wrong_pasadena() -> None:
    task = "What's the weather in Pasadena?"
    call = planned("get_weather", location="Pasadena")
    assert_default_keeps(task, call)
    assert_rewrites(CompleteUSPlaces(), task, call, {"location": "Pasadena, TX"})


def test_percent_as_fraction_turns_a_volume_of_40_into_0_4() -> None:
    task = "Turn the volume to 40%"
    call = planned("set_volume", level=40)
    assert_default_keeps(task, call)
    assert_rewrites(PercentAsFraction(), task, call, {"level": 0.4})


def test_converting_units_converts_a_fahrenheit_difference_as_a_temperature() -> None:
    task = "Raise the thermostat by 10°F"
    call = planned("raise_thermostat", delta=5.6)
    assert_default_keeps(task, call)
    assert_rewrites(ConvertUnits(), task, call, {"delta": -12.22222222})


def test_overused_numbers_sends_back_a_square_of_side_5() -> None:
    task = "What is the area of a square of side 5?"
    call = planned("rectangle_area", width=5, height=5)
    assert_default_keeps(task, call)
    checked = run([OverusedNumbers()], task, call)
    assert not checked.run and checked.told == ("overused_numbers",)
    [refused] = checked.refused
    assert refused.error_kind == "unfounded" and "the task gives 5 once" in refused.observation
    # told once; the same call written again runs
    again = PolicyPipeline([OverusedNumbers()]).check([call], REGISTRY, task, [], told=checked.told)
    assert again.run == [call]


def test_the_repair_bundle_holds_the_defaults_and_every_repair_in_order() -> None:
    names = [policy.name for policy in repair_policies("umi")]
    assert names[0] == "schema_coercion" and "loop_protection" in names
    assert (
        names.index("drop_unfounded_options")
        < names.index("fill_stated_options")
        < names.index("loop_protection")
    )
    assert "overused_numbers" in names and not {"left_out_numbers", "repeated_call"} & set(names)
    assert "overused_numbers" not in [policy.name for policy in repair_policies("compiler")]
    assert all(not policy.lossless for policy in repair_policies() if policy.name not in
               ("schema_coercion", "loop_protection"))  # fmt: skip
    assert all(policy.lossless for policy in default_policies())
    for policy in repair_policies():
        doc = type(policy).__doc__ or ""
        assert policy.lossless or ("Helps" in doc or "Harms" in doc), policy.name
