"""Fine-tuning a pretrained model: what builds on a trained GPT (the chapters after training).

    classifier.py           a GPT body with a classification head on each text's last token
    labeled_texts.py        label<TAB>text files: read, balance, split 70 / 10 / 20
    train_classifier.py     the run of `python -m gpt finetune-classify`
    instructions.py         Alpaca-style records: the template, the -100 prompt mask, batches
    train_instructions.py   the run of `python -m gpt finetune-instruct`
    lora.py                 low-rank adapters: train two small matrices per layer, merge them
    preferences.py          chosen/rejected records: pairs, the prompt cut from the left, batches
    train_preferences.py    the run of `python -m gpt finetune-preference` (DPO)

Each run has the same shape: a config dataclass (model, data, out and the settings), a
function `finetune_...(config, log=print)` that claims the output directory at once, trains,
and writes the directory whole at the end, returning what it measured.
"""
