"""PlatformIO pre-script of `nano33-arduino`: adds the portable firmware (protocol, frontend)
and the generated model and frontend tables (``TINYML_GEN_DIR``, written by ``tinyml build``)."""

import os
from os.path import isdir, join

Import("env")  # type: ignore # noqa: F821

project_dir = env.subst("$PROJECT_DIR")  # type: ignore # noqa: F821
for sub in ("protocol", "frontend"):
    env.BuildSources(join("$BUILD_DIR", sub), join(project_dir, "firmware", sub))  # type: ignore # noqa: F821
gen_dir = os.environ.get("TINYML_GEN_DIR", "")
if gen_dir:
    for sub in sorted(os.listdir(gen_dir)):
        path = join(gen_dir, sub)
        if isdir(path):
            env.Append(CPPPATH=[path])  # type: ignore # noqa: F821
            env.BuildSources(join("$BUILD_DIR", "gen", sub), path)  # type: ignore # noqa: F821
