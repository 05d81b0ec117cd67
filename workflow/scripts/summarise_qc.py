from exomir import qc
from exomir.wrapper import run


def main(smk, log):
    table, lengths = qc.build_table_from_files(smk.params.samples, smk.input, smk.params.qc)
    qc.write_outputs(table, lengths, smk.params.qc, smk.output)
    log.write(qc.status_lines(table))


run(main, snakemake)
