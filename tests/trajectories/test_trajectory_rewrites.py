"""A step whose call a policy changed: stored with its rewrites and the model's own call, and exported
on the call that ran (default) or the model's own."""

from __future__ import annotations

from tinycrew.trajectories import TrajectoryStore
from tinycrew.trajectories.records import RunInfo, StepRecord
from tinycrew.trajectories.samples import openai_samples, role_samples

RAN = {"name": "translate", "arguments": {"text": "good morning"}}
MODEL = {"name": "translate", "arguments": {"text": "good morning", "target_lang": "de"}}
REWRITE = {
    "call_id": 1,
    "name": "translate",
    "policy": "drop_unfounded_options",
    "before": MODEL["arguments"],
    "after": RAN["arguments"],
    "reason": "the task never says target_lang='de'",
}


def test_rewrites_are_stored_and_exports_say_which_call_they_train_on(tmp_path) -> None:
    store = TrajectoryStore.open(tmp_path / "t.sqlite")
    store.add_run(RunInfo(run_id="r", graph="umi", task="Translate 'good morning' into German"))
    messages = [{"role": "user", "content": "Translate 'good morning' into German"}]
    store.add_step(
        StepRecord(
            run_id="r", index=0, role="caller", model="m", messages=messages,
            raw_output='{"target_lang": "de"}', parsed_call=RAN, model_call=MODEL, rewrites=[REWRITE],
            observation="good morning",
        )
    )  # fmt: skip
    run = store.get_run("r")
    assert run is not None
    [step] = run.steps
    assert step.rewrites == [REWRITE] and step.model_call == MODEL and step.parsed_call == RAN
    [ran] = role_samples(run, "caller")
    assert ran["trains_on"] == "ran" and '"target_lang":"de"' in ran["model_call"]
    assert '"target_lang"' not in ran["messages"][-1]["tool_calls"][0]["function"]["arguments"]
    [own] = role_samples(run, "caller", trains_on="model")
    assert own["messages"][-1]["content"] == '{"target_lang": "de"}'
    ran_call = openai_samples(run)[0]["messages"][-1]["tool_calls"][0]["function"]["arguments"]
    model_call = openai_samples(run, trains_on="model")[0]["messages"][-1]["tool_calls"][0]["function"]
    assert "target_lang" not in ran_call and "target_lang" in model_call["arguments"]
