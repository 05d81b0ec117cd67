import sys

from exomir import qc
from exomir.wrapper import run


def main(smk, log):
    _, excluded = qc.exclude_failed_samples(
        smk.params.sample_table,
        smk.input.get("qc_table"),
        smk.params.exclude_failed,
        smk.params.contrasts,
    )
    excluded.to_csv(smk.output.excluded, sep="\t", index=False)
    sentence = qc.exclusion_sentence(excluded)
    if len(excluded):
        print(f"exomir: {sentence}", file=sys.stderr)
    log.write(sentence + "\n")


run(main, snakemake)
