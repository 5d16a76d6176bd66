from transformers import AutoModel, AutoTokenizer


def test_tiny_model_loads_offline(tiny_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModel.from_pretrained(tiny_model_dir)
    batch = tokenizer(["a dog runs in the street", "ein hund"], padding=True, return_tensors="pt")
    out = model(**batch).last_hidden_state
    assert out.shape[0] == 2 and out.shape[-1] == 32
    assert tokenizer.convert_ids_to_tokens(batch["input_ids"][1])[0] == "[CLS]"
