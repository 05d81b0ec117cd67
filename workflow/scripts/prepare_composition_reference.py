from exomir import composition
from exomir.wrapper import run


def main(smk, log):
    records = composition.prepare_reference(smk.input[0], smk.output[0], smk.params.key)
    log.write(f"{records} records from {smk.input[0]}\n")


run(main, snakemake)
