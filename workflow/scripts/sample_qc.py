from exomir import qc
from exomir.de import read_count_matrix
from exomir.wrapper import run


def main(smk):
    samples = list(smk.params.samples)
    thresholds = qc.Thresholds.from_config(smk.params.qc)
    summaries = {s: qc.load_json(p) for s, p in zip(samples, smk.input.summaries)}
    protocols = {s: qc.load_json(p) for s, p in zip(samples, smk.input.protocols)}
    lengths = {s: qc.read_lengths(p) for s, p in zip(samples, smk.input.lengths)}
    counts = read_count_matrix(smk.input.counts)
    table = qc.build_table(samples, summaries, protocols, lengths, counts, thresholds)
    qc.write_table(table, smk.output.table)
    qc.write_json(qc.multiqc_table(table, thresholds), smk.output.mqc_table)
    qc.write_json(qc.multiqc_lengths(lengths), smk.output.mqc_lengths)
    # JSON is YAML: MultiQC reads it as its config file
    qc.write_json(qc.multiqc_config(thresholds), smk.output.mqc_config)
    with open(smk.log[0], "w") as log:
        for status in qc.STATUS_ORDER:
            names = list(table.loc[table["qc_status"] == status, "sample"])
            log.write(f"{status}: {len(names)} {' '.join(names)}\n")


run(main, snakemake)
