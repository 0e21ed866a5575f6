"""What keeps a run safe, so that the chapters' code can stay about the model:

    checks.py          the rules every number a user gives must follow (named as the flag)
    memory.py          how much memory a model and a run need, checked before allocating
    run_directory.py   a training run's directory: checkpoints that survive kills and full disks
    output_dir.py      output directories written whole or not at all (fine-tuning)
    metrics.py         metrics.jsonl, the log of a run, exactly once after a resume
    stop_signals.py    Ctrl-C and SIGTERM: stop at a safe point, with everything saved
"""
