"""The pipeline: policies run in order, a rewrite feeds the next one and is recorded, a send-back ends
the call's turn."""

from __future__ import annotations

import pytest

from tinycrew.agents import PlannedCall
from tinycrew.policies import ACCEPT, CallContext, CallPolicy, PolicyPipeline, Replace, SendBack, describe
from tinycrew.tools import ToolRegistry, tool


@tool
def greet(name: str, greeting: str = "Hello") -> str:
    """Greet someone.

    Args:
        name: Who.
        greeting: The greeting word.
    """
    return f"{greeting}, {name}"


REGISTRY = ToolRegistry([greet])


class Upper:
    name = "upper"
    lossless = False

    def check(self, call: PlannedCall, context: CallContext):
        upper = {key: str(value).upper() for key, value in call.arguments.items()}
        return Replace(call.model_copy(update={"arguments": upper}), "shout")


class UpperAgain(Upper):
    name = "upper_again"


class NoBob:
    name = "no_bob"
    lossless = False

    def check(self, call: PlannedCall, context: CallContext):
        return SendBack("not Bob", "refused") if call.arguments.get("name") == "BOB" else ACCEPT


def test_rewrites_chain_and_are_recorded_in_order() -> None:
    call = PlannedCall(id=1, name="greet", arguments={"name": "ann"})
    assert isinstance(Upper(), CallPolicy)
    [ran] = PolicyPipeline([Upper(), UpperAgain()]).check([call], REGISTRY, "greet ann").run
    assert ran.arguments == {"name": "ANN"} and ran.model_arguments == {"name": "ann"}
    [rewrite] = ran.rewrites  # the second Upper changed nothing: not recorded
    assert describe(rewrite) == "upper: name='ann' -> name='ANN' (shout)"


def test_a_send_back_keeps_the_rewrites_made_before_it() -> None:
    calls = [
        PlannedCall(id=1, name="greet", arguments={"name": "bob"}),
        PlannedCall(id=2, name="greet", arguments={"name": "al"}),
    ]
    checked = PolicyPipeline([Upper(), NoBob()]).check(calls, REGISTRY, "greet bob and al")
    assert [call.id for call in checked.run] == [2] and checked.told == ("no_bob",)
    [refused] = checked.refused
    assert not refused.ok and refused.observation == "not Bob" and refused.model_arguments == {"name": "bob"}
    assert [rewrite.policy for rewrite in refused.rewrites] == ["upper"] and checked.message == "not Bob"


def test_a_policy_named_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="upper"):
        PolicyPipeline([Upper(), Upper()])
