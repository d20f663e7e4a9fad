"""`python -m llama_cpp.server` with tinycrew's extra-buffer-type decision applied.

The server loads its models with llama.cpp's default params, so on a CPU with AMX it takes the Q4_K
repack path that segfaults (see `tinycrew.models.hardware`). This runs the same server, same options,
with the decision (or `TINYCREW_LLAMA_EXTRA_BUFTS`) in force for every model it loads:
`python -m tinycrew.models.llama_server --model x.gguf --host 127.0.0.1 --port 8080`.
"""

from __future__ import annotations

import runpy

from tinycrew.models.hardware import extra_buffer_types, model_params_with_extra_bufts


def main() -> None:
    """Run llama-cpp-python's server module as `__main__`, inside the extra-buffer-type decision."""
    enabled, _ = extra_buffer_types()
    with model_params_with_extra_bufts(enabled):
        runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
