#!/usr/bin/env python3
"""UI benchmarks on the real app window (run by `cargo xtask bench ui` under Xvfb).

Measures, over several launches: time from launching the app to its first painted frame;
time from opening a workflow to its canvas being laid out and painted, for a small one and a
1,000-node one; and the resident (RSS) and proportional (PSS) memory of the whole process
tree (the app and its WebKit processes), idle with the small workflow open and then with the
big one open. Prints JSON.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
import run_e2e as e2e  # noqa: E402


def marks(app):
    return app.driver.execute_script("return window.__switchyardMarks || {};")


def process_tree(root_pid):
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [root_pid]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def memory_kib(pids):
    total = {"Rss": 0, "Pss": 0}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup", encoding="utf-8") as f:
                for line in f:
                    key = line.split(":")[0]
                    if key in total:
                        total[key] += int(line.split()[1])
        except OSError:
            pass
    return total


def app_pid(app_path):
    out = subprocess.run(["pgrep", "-n", "-f", app_path], capture_output=True, text=True, check=False).stdout.split()
    if not out:
        raise e2e.Failure("the app process was not found")
    return int(out[0])


def open_workflow(app, name):
    def row_named():
        return next((r for r in app.find_all('[data-testid="workflow-row"]') if name in app.text(r)), None)

    app.wait(row_named, f"the workflow {name} in the list").click()
    app.wait(lambda: marks(app).get("canvasReady"), f"the canvas of {name}", timeout=60)
    m = marks(app)
    return m["canvasReady"] - m["editorOpen"], m.get("canvasNodes")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--app", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--small", required=True, help="name of a small workflow in the data dir")
    parser.add_argument("--big", required=True, help="name of the 1,000-node workflow in the data dir")
    parser.add_argument("--out", required=True, help="folder for screenshots")
    parser.add_argument("--launches", type=int, default=3)
    args = parser.parse_args()
    app_path = os.path.abspath(args.app)
    home = tempfile.mkdtemp(prefix="switchyard-bench-home-")
    env = dict(os.environ, HOME=home)
    driver = subprocess.Popen(
        ["tauri-driver", "--port", str(e2e.DRIVER_PORT), "--native-port", str(e2e.free_port()), "--native-driver", "/usr/bin/WebKitWebDriver"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    results = {"launch_to_first_paint_ms": [], "small_canvas_ms": [], "big_canvas_ms": [], "big_nodes": None, "idle_kib": [], "big_kib": []}
    try:
        e2e.wait_port(e2e.DRIVER_PORT, 30)
        for launch in range(args.launches):
            launched = time.time() * 1000
            app = e2e.App(app_path, args.out, args.data_dir)
            try:
                app.wait(lambda: marks(app).get("firstPaint"), "the first paint", timeout=60)
                results["launch_to_first_paint_ms"].append(marks(app)["firstPaint"] - launched)
                app.wait(lambda: len(app.find_all('[data-testid="workflow-row"]')) >= 2, "the workflows")
                ms, _ = open_workflow(app, args.small)
                results["small_canvas_ms"].append(ms)
                time.sleep(5)
                results["idle_kib"].append(memory_kib(process_tree(app_pid(app_path))))
                app.button("← Workflows").click()
                ms, nodes = open_workflow(app, args.big)
                results["big_canvas_ms"].append(ms)
                results["big_nodes"] = nodes
                if launch == 0:
                    app.screenshot("bench-1000-nodes")
                time.sleep(5)
                results["big_kib"].append(memory_kib(process_tree(app_pid(app_path))))
            finally:
                app.quit()
                time.sleep(1)
    finally:
        driver.terminate()
        driver.wait(10)
    summary = {
        "launch_to_first_paint_ms": statistics.median(results["launch_to_first_paint_ms"]),
        "small_canvas_ms": statistics.median(results["small_canvas_ms"]),
        "big_canvas_ms": statistics.median(results["big_canvas_ms"]),
        "big_nodes": results["big_nodes"],
        "idle_rss_kib": max(m["Rss"] for m in results["idle_kib"]),
        "idle_pss_kib": max(m["Pss"] for m in results["idle_kib"]),
        "big_rss_kib": max(m["Rss"] for m in results["big_kib"]),
        "big_pss_kib": max(m["Pss"] for m in results["big_kib"]),
        "runs": results,
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
