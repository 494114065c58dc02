"""Scores of both branches and of the fused model on the held-out test set."""

import numpy as np
import pandas as pd
from dagster import AssetExecutionContext, MetadataValue, Output, asset

from mmrec_assets.assets.preprocessing import IMAGE_FEATURES, stored_features
from mmrec_assets.assets.tables import markdown_table, png_markdown
from mmrec_assets.assets.training import class_indices
from mmrec_assets.ml.catalogue import LABEL_COLUMN
from mmrec_assets.resources import StorageFolder

GROUP = "evaluation"
CONFUSION_MATRIX = "reports/confusion_matrix"
CONFUSION_MATRIX_FILE = "confusion_matrix.png"


@asset(group_name=GROUP, io_manager_key="table_io_manager", deps=[IMAGE_FEATURES])
def model_evaluation(
    context: AssetExecutionContext,
    fused_model,
    preprocessed_text: pd.DataFrame,
    storage: StorageFolder,
) -> Output[pd.DataFrame]:
    """Test-set predictions, accuracy and weighted F1 of the text, image and fused models."""
    from mmrec_assets.ml.evaluation import confusion_matrix_png, per_class_f1_markdown, score
    from mmrec_assets.ml.fusion import fuse
    from mmrec_assets.ml.image_model import image_head
    from mmrec_assets.ml.predict import IMAGE_MODEL_NAME, TEXT_MODEL_NAME
    from mmrec_assets.ml.text_model import predict_text

    class_codes = fused_model.class_codes
    text_weight = float(fused_model.info["text_weight"])
    test = preprocessed_text[preprocessed_text["split"] == "test"]
    labels = class_indices(test[LABEL_COLUMN], class_codes)
    image_rows, features = stored_features(storage).usable("test")
    has_image = test.index.isin(image_rows)

    # The branches come out of the fused model itself, and the image branch is scored on the
    # stored features, so evaluation runs no VGG16 pass.
    text_probabilities = predict_text(fused_model.model.get_layer(TEXT_MODEL_NAME), test["text"])
    head = image_head(fused_model.model.get_layer(IMAGE_MODEL_NAME))
    image_probabilities = np.asarray(head.predict(features, verbose=0))
    image_positions = pd.Index(image_rows).get_indexer(test.index[has_image])
    fused_probabilities = text_probabilities.copy()
    fused_probabilities[has_image] = fuse(
        text_probabilities[has_image], image_probabilities[image_positions], text_weight
    )

    predictions = test[[LABEL_COLUMN]].copy()
    predictions["text_prediction"] = np.asarray(class_codes)[text_probabilities.argmax(1)]
    predictions["image_prediction"] = pd.NA
    predictions.loc[has_image, "image_prediction"] = np.asarray(class_codes)[
        image_probabilities[image_positions].argmax(1)
    ]
    predictions["fused_prediction"] = np.asarray(class_codes)[fused_probabilities.argmax(1)]
    predictions["has_image"] = has_image

    fused_predicted = fused_probabilities.argmax(1)
    scores = {
        "text": score(labels, text_probabilities.argmax(1)),
        "image": score(labels[has_image], image_probabilities[image_positions].argmax(1)),
        "fused": score(labels, fused_predicted),
    }
    png = confusion_matrix_png(labels, fused_predicted, class_codes, "Fused model, test set")
    store = storage.store()
    with store.write(CONFUSION_MATRIX, tag=context.run_id) as folder:
        (folder / CONFUSION_MATRIX_FILE).write_bytes(png)
    png_path = store.current_path(CONFUSION_MATRIX) / CONFUSION_MATRIX_FILE

    per_class = per_class_f1_markdown(
        {
            "text": (labels, text_probabilities.argmax(1)),
            "image": (labels[has_image], image_probabilities[image_positions].argmax(1)),
            "fused": (labels, fused_predicted),
        },
        class_codes,
    )
    for name, values in scores.items():
        context.log.info(
            f"Test {name}: accuracy {values['accuracy']:.3f}, "
            f"weighted F1 {values['weighted_f1']:.3f}"
        )

    table = pd.DataFrame(scores).T.round(4).rename_axis("model")
    return Output(
        predictions,
        metadata={
            **{
                f"{name} test accuracy": round(values["accuracy"], 4)
                for name, values in scores.items()
            },
            **{
                f"{name} test weighted F1": round(values["weighted_f1"], 4)
                for name, values in scores.items()
            },
            "test scores": markdown_table(table, index=True),
            "test rows": len(test),
            "test rows with a usable photo": int(has_image.sum()),
            "per-class F1": MetadataValue.md(per_class),
            "confusion matrix (fused)": png_markdown(png, "confusion matrix"),
            "confusion matrix file": MetadataValue.path(str(png_path)),
            "fused model version": fused_model.info.get("version", ""),
        },
    )
