"""SCons build script of the tinyml bare-metal platform (run by `pio run`).

Everything board-specific comes from ``boards/<name>/board.toml`` (the board manifest JSON
only names it in ``build.tinyml_board``). Sources: the application in ``firmware/app`` (the
project's src_dir), ``firmware/protocol``, ``firmware/frontend``, the shared Cortex-M layer in
``boards/common/<arch>``, a shared UART driver (``boards/common/uart/<driver>.c`` for the
board.toml's ``[uart] driver``, when that file exists), the board layer (``sources``), and the
generated model and frontend tables in the folder named by the environment variable
``TINYML_GEN_DIR`` (written by ``tinyml build``).
"""

import os
import tomllib
from os.path import isdir, join

from SCons.Script import AlwaysBuild, Default, DefaultEnvironment  # type: ignore

env = DefaultEnvironment()
platform = env.PioPlatform()
board_config = env.BoardConfig()

project_dir = env.subst("$PROJECT_DIR")
board_name = board_config.get("build.tinyml_board")
board_dir = join(project_dir, "boards", board_name)
# TINYML_BOARD_TOML: a variant of the board's definition (tests use one with less memory).
with open(os.environ.get("TINYML_BOARD_TOML") or join(board_dir, "board.toml"), "rb") as fh:
    board = tomllib.load(fh)

toolchain_dir = platform.get_package_dir("toolchain-armnoneeabi-system")
if toolchain_dir:
    env.PrependENVPath("PATH", join(toolchain_dir, "bin"))

env.Replace(
    AR="arm-none-eabi-gcc-ar",
    AS="arm-none-eabi-gcc",
    CC="arm-none-eabi-gcc",
    CXX="arm-none-eabi-g++",
    GDB="arm-none-eabi-gdb",
    OBJCOPY="arm-none-eabi-objcopy",
    RANLIB="arm-none-eabi-gcc-ranlib",
    SIZETOOL="arm-none-eabi-size",
    PROGNAME="firmware",
    PROGSUFFIX=".elf",
    SIZEPROGREGEXP=r"^(?:\.text|\.ARM\.exidx|\.data)\s+(\d+).*",
    SIZEDATAREGEXP=r"^(?:\.data|\.bss|\.stack)\s+(\d+).*",
    SIZECHECKCMD="$SIZETOOL -A -d $SOURCES",
    SIZEPRINTCMD="$SIZETOOL -B -d $SOURCES",
)

cpu_flags = [f"-mcpu={board['cpu']}", "-mthumb"]
if board.get("fpu"):
    cpu_flags += [f"-mfpu={board['fpu']}", f"-mfloat-abi={board.get('float_abi', 'hard')}"]
else:
    cpu_flags += ["-mfloat-abi=soft"]

arch_dir = join(project_dir, "boards", "common", board["arch"])
gen_dir = os.environ.get("TINYML_GEN_DIR", "")
uart = board.get("uart", {})
has_semihosting = 1 if board.get("emulator", {}).get("semihosting") else 0

env.Append(
    ASFLAGS=cpu_flags,
    CCFLAGS=cpu_flags
    + [
        "-O2",
        "-g",
        "-ffunction-sections",
        "-fdata-sections",
        "-ffp-contract=off",  # host and device features must round the same way
        "-fno-common",
        "-Wall",
        "-Wextra",
        "-Werror",
    ],
    CFLAGS=["-std=c99"],
    CPPDEFINES=[
        ("TML_BOARD_NAME", f'\\"{board_name}\\"'),
        ("TML_CLOCK_HZ", f"{board['clock_hz']}u"),
        ("TML_TICK_HZ", f"{board.get('tick', {}).get('hz', board['clock_hz'])}u"),
        ("TML_UART_BASE", f"0x{uart.get('base', 0):08X}u"),
        ("TML_UART_RX_IRQ", f"{uart.get('rx_irq', 0)}"),
        # vector table entries for external interrupts: a multiple of 16 covering rx_irq
        ("TML_NUM_IRQS", f"{16 * (int(uart.get('rx_irq', 0)) // 16 + 1)}"),
        ("TML_UART_BAUD", f"{uart.get('baud', 115200)}u"),
        ("TML_HAS_SEMIHOSTING", has_semihosting),
    ],
    CPPPATH=[
        join(project_dir, "firmware", "app"),
        join(project_dir, "firmware", "protocol"),
        join(project_dir, "firmware", "frontend"),
        arch_dir,
        board_dir,
    ],
    LINKFLAGS=cpu_flags
    + [
        "-nostartfiles",
        "--specs=nano.specs",
        "-Wl,--gc-sections",
        "-Wl,-Map," + join("$BUILD_DIR", "firmware.map"),
        "-L$BUILD_DIR",
    ],
    LIBS=["m", "c", "gcc", "nosys"],
)
env.Replace(LDSCRIPT_PATH=join(arch_dir, "link.ld"))

# memory.ld from board.toml, so the linker and the size check agree with the registry.
mem = board["memory"]
os.makedirs(env.subst("$BUILD_DIR"), exist_ok=True)
memory_ld = (
    "MEMORY\n{\n"
    f"    FLASH (rx) : ORIGIN = 0x{mem['flash_origin']:08X}, LENGTH = {mem['flash_bytes']}\n"
    f"    RAM (rwx)  : ORIGIN = 0x{mem['ram_origin']:08X}, LENGTH = {mem['ram_bytes']}\n"
    f"}}\n__stack_size__ = {mem.get('stack_bytes', 8192)};\n"
)
memory_path = join(env.subst("$BUILD_DIR"), "memory.ld")
if not os.path.isfile(memory_path) or open(memory_path).read() != memory_ld:  # noqa: SIM115
    with open(memory_path, "w") as fh:
        fh.write(memory_ld)

# Portable firmware, the Cortex-M layer, the board layer, and the generated sources.
env.BuildSources(join("$BUILD_DIR", "protocol"), join(project_dir, "firmware", "protocol"))
if isdir(join(project_dir, "firmware", "frontend")):
    env.BuildSources(
        join("$BUILD_DIR", "frontend"),
        join(project_dir, "firmware", "frontend"),
        src_filter="+<*.c> -<python/>",
    )
env.BuildSources(join("$BUILD_DIR", "arch"), arch_dir)
board_sources = board.get("sources", ["*.c"])
if board_sources:
    env.BuildSources(
        join("$BUILD_DIR", "board"),
        board_dir,
        src_filter=" ".join(f"+<{s}>" for s in board_sources),
    )
# A UART driver shared by several boards: boards/common/uart/<driver>.c ([uart] driver).
uart_driver = join(project_dir, "boards", "common", "uart", f"{uart.get('driver', '')}.c")
if uart.get("driver") and os.path.isfile(uart_driver):
    env.BuildSources(
        join("$BUILD_DIR", "uart"), os.path.dirname(uart_driver),
        src_filter=f"+<{os.path.basename(uart_driver)}>",
    )
if gen_dir:
    for sub in sorted(os.listdir(gen_dir)):
        path = join(gen_dir, sub)
        if isdir(path):
            env.Append(CPPPATH=[path])
            env.BuildSources(join("$BUILD_DIR", "gen", sub), path)

target_elf = env.BuildProgram()
AlwaysBuild(env.Alias("nobuild", target_elf))
target_size = env.Alias("size", target_elf, env.VerboseAction("$SIZEPRINTCMD", "Program size"))
AlwaysBuild(target_size)

upload = board.get("upload", {})
if upload.get("protocol", "none") == "none":
    upload_action = env.VerboseAction(
        f"@echo {board_name} is emulated: nothing to upload, the emulator loads the ELF", ""
    )
else:
    # e.g. command = "bossac --port=$UPLOAD_PORT -U -i -e -w $SOURCE -R"
    upload_action = env.VerboseAction(upload["command"], "Uploading $SOURCE")
AlwaysBuild(env.Alias("upload", target_elf, upload_action))

Default([target_elf])
