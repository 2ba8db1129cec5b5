"""Write the project's robot URDFs (run from anywhere: ``python assets/robots/generate_robots.py``).

The kinematic parameters are the Franka Emika Panda's published ones (the joint frames of
Franka's documentation: Craig-convention DH a = 0.0825, -0.0825, 0.088 m, d = 0.333, 0.316,
0.384, flange 0.107 m; joint position and velocity limits from the datasheet; gripper
stroke 0-0.04 m per finger). The geometry is our own: cylinders and boxes roughly hugging
each link, so that the files need no meshes. ``bimanual_panda`` puts two such arms, with
grippers, on one base with a waist joint.
"""

from __future__ import annotations

import math
from pathlib import Path

HERE = Path(__file__).resolve().parent
PI = math.pi

# name, origin xyz, origin rpy, lower, upper, velocity (rad, rad/s)
PANDA_JOINTS = [
    ("joint1", (0, 0, 0.333), (0, 0, 0), -2.8973, 2.8973, 2.175),
    ("joint2", (0, 0, 0), (-PI / 2, 0, 0), -1.7628, 1.7628, 2.175),
    ("joint3", (0, -0.316, 0), (PI / 2, 0, 0), -2.8973, 2.8973, 2.175),
    ("joint4", (0.0825, 0, 0), (PI / 2, 0, 0), -3.0718, -0.0698, 2.175),
    ("joint5", (-0.0825, 0.384, 0), (-PI / 2, 0, 0), -2.8973, 2.8973, 2.61),
    ("joint6", (0, 0, 0), (PI / 2, 0, 0), -0.0175, 3.7525, 2.61),
    ("joint7", (0.088, 0, 0), (PI / 2, 0, 0), -2.8973, 2.8973, 2.61),
]

# Per link: list of (kind, size, xyz, rpy); cylinders run along their local z.
Y = (PI / 2, 0, 0)  # turns a z-cylinder onto the y axis
X = (0, PI / 2, 0)  # onto the x axis
PANDA_GEOMETRY = {
    "link0": [("cylinder", (0.08, 0.14), (0, 0, 0.07), (0, 0, 0)), ("box", (0.14, 0.12, 0.1), (-0.08, 0, 0.05), (0, 0, 0))],
    "link1": [("cylinder", (0.06, 0.25), (0, 0, -0.16), (0, 0, 0)), ("sphere", (0.06,), (0, 0, -0.04), (0, 0, 0))],
    "link2": [("cylinder", (0.06, 0.12), (0, 0, 0), (0, 0, 0)), ("cylinder", (0.055, 0.2), (0, -0.1, 0), Y)],
    "link3": [("cylinder", (0.055, 0.16), (0, 0, -0.08), (0, 0, 0)), ("cylinder", (0.055, 0.12), (0.0825, 0, 0), (0, 0, 0))],
    "link4": [("cylinder", (0.055, 0.12), (0, 0, 0), (0, 0, 0)), ("box", (0.1, 0.16, 0.1), (-0.04, 0.07, 0), (0, 0, 0))],
    "link5": [("cylinder", (0.06, 0.22), (0, 0, -0.14), (0, 0, 0)), ("box", (0.05, 0.08, 0.1), (0, 0.06, -0.24), (0, 0, 0))],
    "link6": [("cylinder", (0.05, 0.1), (0, 0, 0), (0, 0, 0)), ("cylinder", (0.045, 0.1), (0.05, 0, 0), X)],
    "link7": [("cylinder", (0.045, 0.1), (0, 0, 0.02), (0, 0, 0))],
    "hand": [("box", (0.06, 0.2, 0.065), (0, 0, 0.0325), (0, 0, 0))],
    "leftfinger": [("box", (0.02, 0.018, 0.05), (0, 0.009, 0.025), (0, 0, 0))],
    "rightfinger": [("box", (0.02, 0.018, 0.05), (0, -0.009, 0.025), (0, 0, 0))],
}


def _f(v) -> str:
    return " ".join(f"{x:.10g}" for x in v)


def _link(name: str, shapes) -> str:
    out = [f'  <link name="{name}">']
    for kind, size, xyz, rpy in shapes:
        if kind == "box":
            geom = f'<box size="{_f(size)}"/>'
        elif kind == "cylinder":
            geom = f'<cylinder radius="{size[0]:.10g}" length="{size[1]:.10g}"/>'
        else:
            geom = f'<sphere radius="{size[0]:.10g}"/>'
        for tag in ("visual", "collision"):
            out.append(f'    <{tag}><origin xyz="{_f(xyz)}" rpy="{_f(rpy)}"/><geometry>{geom}</geometry></{tag}>')
    out.append("  </link>")
    return "\n".join(out)


def _joint(name, kind, parent, child, xyz=(0, 0, 0), rpy=(0, 0, 0), axis=None, limit=None, mimic=None) -> str:
    out = [f'  <joint name="{name}" type="{kind}">', f'    <parent link="{parent}"/>', f'    <child link="{child}"/>',
           f'    <origin xyz="{_f(xyz)}" rpy="{_f(rpy)}"/>']
    if axis is not None:
        out.append(f'    <axis xyz="{_f(axis)}"/>')
    if limit is not None:
        lo, hi, vel, effort = limit
        out.append(f'    <limit lower="{lo:.10g}" upper="{hi:.10g}" velocity="{vel:.10g}" effort="{effort:.10g}"/>')
    if mimic is not None:
        out.append(f'    <mimic joint="{mimic}" multiplier="1" offset="0"/>')
    out.append("  </joint>")
    return "\n".join(out)


def panda_arm(prefix: str, parent: str | None, mount_xyz=(0, 0, 0), mount_rpy=(0, 0, 0)) -> list[str]:
    """Links and joints of one Panda-like arm with its gripper; mounted on ``parent``."""
    p = prefix
    parts = [_link(f"{p}link0", PANDA_GEOMETRY["link0"])]
    if parent is not None:
        parts.append(_joint(f"{p}mount", "fixed", parent, f"{p}link0", mount_xyz, mount_rpy))
    prev = f"{p}link0"
    for k, (name, xyz, rpy, lo, hi, vel) in enumerate(PANDA_JOINTS, start=1):
        link = f"{p}link{k}"
        parts.append(_link(link, PANDA_GEOMETRY[f"link{k}"]))
        parts.append(_joint(f"{p}{name}", "revolute", prev, link, xyz, rpy, (0, 0, 1), (lo, hi, vel, 87 if k < 5 else 12)))
        prev = link
    parts.append(f'  <link name="{p}link8"/>')
    parts.append(_joint(f"{p}joint8", "fixed", prev, f"{p}link8", (0, 0, 0.107)))
    parts.append(_link(f"{p}hand", PANDA_GEOMETRY["hand"]))
    parts.append(_joint(f"{p}hand_joint", "fixed", f"{p}link8", f"{p}hand", rpy=(0, 0, -PI / 4)))
    parts.append(_link(f"{p}leftfinger", PANDA_GEOMETRY["leftfinger"]))
    parts.append(_link(f"{p}rightfinger", PANDA_GEOMETRY["rightfinger"]))
    parts.append(_joint(f"{p}finger_joint1", "prismatic", f"{p}hand", f"{p}leftfinger", (0, 0, 0.0584), axis=(0, 1, 0), limit=(0, 0.04, 0.2, 20)))
    parts.append(_joint(f"{p}finger_joint2", "prismatic", f"{p}hand", f"{p}rightfinger", (0, 0, 0.0584), axis=(0, -1, 0), limit=(0, 0.04, 0.2, 20), mimic=f"{p}finger_joint1"))
    parts.append(f'  <link name="{p}tcp"/>')
    parts.append(_joint(f"{p}tcp_joint", "fixed", f"{p}hand", f"{p}tcp", (0, 0, 0.1034)))
    return parts


HEADER = "<?xml version=\"1.0\"?>\n<!-- Generated by assets/robots/generate_robots.py; edit that script, not this file. -->\n"


def panda() -> str:
    return HEADER + '<robot name="panda">\n' + "\n".join(panda_arm("panda_", None)) + "\n</robot>\n"


def bimanual_panda() -> str:
    parts = [
        _link("base", [("box", (0.25, 0.35, 0.6), (0, 0, 0.3), (0, 0, 0))]),
        _link("torso", [("box", (0.3, 0.8, 0.1), (0, 0, 0.05), (0, 0, 0))]),
        _joint("torso_joint", "revolute", "base", "torso", (0, 0, 0.6), axis=(0, 0, 1), limit=(-1.5, 1.5, 1.0, 100)),
    ]
    parts += panda_arm("left_", "torso", (0.05, 0.3, 0.1), (0, 0, 0))
    parts += panda_arm("right_", "torso", (0.05, -0.3, 0.1), (0, 0, 0))
    return HEADER + '<robot name="bimanual_panda">\n' + "\n".join(parts) + "\n</robot>\n"


def main() -> None:
    (HERE / "panda").mkdir(exist_ok=True)
    (HERE / "bimanual_panda").mkdir(exist_ok=True)
    (HERE / "panda" / "panda.urdf").write_text(panda())
    (HERE / "bimanual_panda" / "bimanual_panda.urdf").write_text(bimanual_panda())


if __name__ == "__main__":
    main()
