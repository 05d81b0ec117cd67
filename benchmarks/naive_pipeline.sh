#!/usr/bin/env bash
# The naive lab script exomir is compared with (make benchmark): cutadapt on every read,
# bowtie on every trimmed read against the mature miRNAs, samtools idxstats per sample.
#
#   benchmarks/naive_pipeline.sh <bowtie index prefix> <output folder> <threads> <fastq>...
#
# Same trimming settings as exomir's defaults (TruSeq adapter, -q 20, 16-30 nt, reads without
# adapter dropped), one mismatch, best alignment per read (-k 1 --best: cheaper than exomir's
# -a --best --strata). Counts are the per-miRNA read numbers of `samtools idxstats`.
set -euo pipefail

index=$1
outdir=$2
threads=$3
shift 3
mkdir -p "$outdir"

for fastq in "$@"; do
    name=$(basename "$fastq")
    name=${name%%.*}
    cutadapt --cores "$threads" --quality-cutoff 20 --adapter TGGAATTCTCGGGTGCCAAGG \
        --discard-untrimmed --minimum-length 16 --maximum-length 30 \
        --output "$outdir/$name.trimmed.fastq" "$fastq" > "$outdir/$name.cutadapt.log"
    bowtie --threads "$threads" -v 1 -k 1 --best --norc --sam --no-unal -x "$index" \
        "$outdir/$name.trimmed.fastq" 2> "$outdir/$name.bowtie.log" |
        samtools sort -@ "$threads" -o "$outdir/$name.bam" - 2> "$outdir/$name.sort.log"
    samtools index "$outdir/$name.bam"
    samtools idxstats "$outdir/$name.bam" > "$outdir/$name.idxstats.tsv"
    rm "$outdir/$name.trimmed.fastq"
done
