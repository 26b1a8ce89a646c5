"""``build.py package`` (the default): vendor the runtime libraries, write the package.

Prints the package's path, size and SHA-256, then replays the built-in CloudTrail sample
through the rules exactly as shipped and prints which rules fired.
"""

from __future__ import annotations

import argparse

from devtools import packaging, vendor


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="build.py package", description=__doc__)
    parser.add_argument("--no-vendor", action="store_true", help="reuse app/lib as it is")
    parser.add_argument("--no-replay", action="store_true", help="skip the replay of the built-in sample")
    args = parser.parse_args(argv)
    if not args.no_vendor or not (packaging.APP / "lib").exists():
        print(f"vendored {vendor.vendor()} files into app/lib")
    package = packaging.build()
    print(
        f"built {package.path.relative_to(packaging.ROOT)}: version {package.version}, "
        f"{package.files} files, {package.size:,} bytes, sha256 {package.sha256}"
    )
    if not args.no_replay:
        from devtools.cloudtrail.sample import replay_sample_summary

        print("\nreplaying the built-in sample (samples/cloudtrail_ecr_sample.json) through the shipped rules:")
        print(replay_sample_summary())
    return 0
