"""Held-out probe 28's cases: published measurements from three documents no case had read before.

A helper session, working blind on a frozen checkout (04d7e49), chose documents by a rule it wrote down first
(public measurement logs or benchmark tables that state, in the document or the scripts beside it, the hardware, GPU
count, collective or model, message or batch size and precision; no issue threads reporting an anomaly; no page a
case already names), registered 10 rows with the ``simtrain`` command a careful user would write before it ran any,
and then ran them unchanged: nccl-tests and rccl-tests all-reduce logs of two-node runs on Oracle Cloud (OCI) from
its oci-hpc-oke repository: A100 40 GB nodes (BM.GPU4.8) under NCCL 2.19.3 (2024; the 8-byte time and four sizes to
8 GiB), A100 40 GB nodes (BM.GPU.B4.8) under NCCL 2.29.3 with NCCL_ALGO=Ring (2026; 1 and 8 GiB), and MI300X nodes
(BM.GPU.MI300X.8) under RCCL (2026; 1, 8 and 16 GiB). Its median |error| over the 10 was 14.8 % (all collectives;
no training or ratio rows). No constant was set from them and no row was added, dropped or changed after the runs;
no command was refused.

The two NCCL_ALGO=Ring rows miss by -87 %: the registered ``--algorithm ring`` runs simtrain's named ring with one
channel (one NIC of the node's eight), where NCCL's Ring still opens a channel per NIC; the same command with the
default ``auto`` is within 1.3 % of those logs. Each row beyond 25 % carries the probe's reading of the cause, which
the case says is not closed.

Examples
--------
>>> from simtrain.validation import CASES
>>> CASES.get("oci-mi300x-16x-2node-allreduce-8GiB-busbw").unit
'GB/s'
"""

from __future__ import annotations

from typing import Any

from simtrain.validation.probe_rows import register_probe_rows

__all__: list[str] = []


#: The assumptions every row of one document shares (D1, D2, D3 below).
_ASSUME_D1 = ("[assumed, OCI's shape specification] BM.GPU4.8 (the README names BM.GPU4.8 and "
                     "BM.GPU.A100-v2.8 for A100; the log's 'A100-SXM4-40GB' is BM.GPU4.8): 8 A100 SXM4"
                     ' 40 GB on NVSwitch, 1,600 Gbit/s of RoCE v2 RDMA a node (16 x 100 Gbit/s ports, '
                     '16 VFs) = catalog `dgx-a100` with topology.device=a100-40gb and its 8 x 200 '
                     "Gbit/s NICs (the same 1,600 Gbit/s; fabric as the catalog's non-blocking fat "
                     'tree [assumed]); [stated, manifest] NCCL 2.19.3 (image '
                     'pytorch-23.10-nccl-2.19.3-1), no NCCL_ALGO/NCCL_PROTO: `--algorithm auto` '
                     '(default); [stated] float sum, out-of-place column; 2 nodes x 8 ranks')

#: The assumptions every row of one document shares (D1, D2, D3 below).
_ASSUME_D2 = ("[stated] BM.GPU.B4.8, 'A100-SXM4-40GB'; [assumed, OCI's shape specification] 8 "
                     "A100 SXM4 40 GB on NVSwitch, 1,600 Gbit/s of RoCE v2 RDMA a node (the script's "
                     '16 HCAs) = catalog `dgx-a100` with topology.device=a100-40gb and its 8 x 200 '
                     "Gbit/s NICs (fabric as the catalog's non-blocking fat tree [assumed]); [stated] "
                     'NCCL 2.29.3, NCCL_ALGO=Ring: `--algorithm ring`; [stated] float sum, '
                     'out-of-place column; 2 nodes x 8 ranks')

#: The assumptions every row of one document shares (D1, D2, D3 below).
_ASSUME_D3 = ("[stated] BM.GPU.MI300X.8; [assumed, OCI's shape specification] 8 AMD Instinct "
                     "MI300X (xGMI full mesh), 8 x 400 Gbit/s RoCE v2 NICs a node (the script's 8 "
                     "HCAs) = catalog `mi300x` as is (fabric as the catalog's non-blocking fat tree "
                     '[assumed]); [stated] RCCL (rccl-tests develop:a52452e; version of RCCL not '
                     'printed), no NCCL_ALGO: `--algorithm auto` with `network.protocol=nccl` as the '
                     "catalog's other RCCL cases; [stated] float sum, out-of-place column; 2 nodes x 8"
                     ' ranks')


#: The probe's documents: id -> (source id, what it is, its page).
_DOCUMENTS = {
    'D1': ('oci-oke-a100-nccl-2402',
           ("oracle-quickstart/oci-hpc-oke README.md (commit 1402938d, 2024-02-13), section 'Run the "
            "NCCL test', example output of a two-node all_reduce_perf run on A100-SXM4-40GB (16 ranks)"
            ' + manifests/a100-nccl-test.yaml (same commit: image '
            'nccl-tests:pytorch-23.10-nccl-2.19.3-1, mpirun -np 16 -npernode 8, all_reduce_perf -b 8 '
            '-f 2 -g 1 -e 8G -c 1, NCCL_CROSS_NIC=1, NCCL_IB_QPS_PER_CONNECTION=4, NCCL_TOPO_FILE, 16 '
            'SR-IOV RDMA VFs a node, no NCCL_ALGO)'),
           ('https://github.com/oracle-quickstart/oci-hpc-oke/blob/'
            '1402938d8c77b586e20ec9d40849e2177feef411/README.md')),
    'D2': ('oci-oke-slurmop-a100',
           ('oracle-quickstart/oci-hpc-oke docs/running-nccl-rccl-tests-from-slurm-operator.md (commit'
            " ffc89bc8, 2026-06-30), 'NCCL Tests' 'Example Output': two-node BM.GPU.B4.8 run, 16 "
            'ranks, A100-SXM4-40GB, nccl-tests 2.17.9, NCCL 2.29.3+cuda13.1; its nccl-slurm.sh for '
            'BM.GPU.B4.8: NCCL_ALGO=Ring, 16 HCAs in NCCL_IB_HCA, all_reduce_perf -b 1G -e 8G -f 2 -g '
            '1 -n 100'),
           ('https://github.com/oracle-quickstart/oci-hpc-oke/blob/'
            'ffc89bc8bdedf4dccc105d5e495f5a97e4964d33/docs/running-nccl-rccl-tests-from-slurm-operator.md')),
    'D3': ('oci-oke-slurmop-mi300x',
           ('oracle-quickstart/oci-hpc-oke docs/running-nccl-rccl-tests-from-slurm-operator.md (commit'
            " ffc89bc8, 2026-06-30), 'RCCL Tests' 'Example Output': two-node BM.GPU.MI300X.8 run, 16 "
            'ranks, rccl-tests develop:a52452e; its rccl-slurm.sh for BM.GPU.MI300X.8: 8 HCAs in '
            'NCCL_IB_HCA, NCCL_IB_QPS_PER_CONNECTION=4, no NCCL_ALGO, all_reduce_perf -b 1G -e 16G -f '
            '2 -g 1'),
           ('https://github.com/oracle-quickstart/oci-hpc-oke/blob/'
            'ffc89bc8bdedf4dccc105d5e495f5a97e4964d33/docs/running-nccl-rccl-tests-from-slurm-operator.md')),
}

#: The probe's single-run rows as it registered them (its results file): name, document, command kind and parameters
#: (as registered and run), the --json field and its scale, the figure, its unit and quantity, the
#: page's words, the probe's assumptions, confidence and its reason, a declared deviation, and its reading of a row
#: beyond 25 %.
_ROWS: tuple[dict[str, Any], ...] = (
    dict(
        name='oci-a100-16x-2node-allreduce-8B-time', document='D1', kind='collective',
        params={'op': 'all-reduce',
                'topology': 'dgx-a100',
                'gpus': 16,
                'size': '8B',
                'topology.device': 'a100-40gb',
                'network.protocol': 'nccl'},
        key='time_s', scale=1000000.0, published=36.47, unit='us',
        quantity=('nccl-tests all_reduce_perf time of an 8-byte all-reduce, 2 OCI BM.GPU4.8 nodes (16 '
                  'A100 40 GB), NCCL 2.19.3'),
        quote=("README.md: '           8             2     float     sum      -1    36.47    0.00    "
               "0.00      0    34.74    0.00    0.00      0'"),
        assumptions=_ASSUME_D1,
        confidence='low',
        reason=("hardware from OCI's shape specification, not the log; RoCE cluster network under "
                "Kubernetes SR-IOV VFs; the latency floor depends on RoCE latency and NCCL's protocol "
                'choice, not stated'),
        deviation='',
        gap=("reading: simtrain's floor (25.2 us, NCCL's LL protocol over the catalog's InfiniBand: 1 "
             "us a network hop) is below the log's 36.47 us; the run crossed OCI's RoCE v2 cluster "
             'network through Kubernetes SR-IOV virtual functions (16 VFs a node, '
             'NCCL_IB_QPS_PER_CONNECTION=4, a custom NCCL_TOPO_FILE), whose per-message latency the '
             "document does not state and simtrain's catalog prices as InfiniBand's; NCCL 2.19.3's "
             'latency tuning on that path is not modelled')),
    dict(
        name='oci-a100-16x-2node-allreduce-1MiB-busbw', document='D1', kind='collective',
        params={'op': 'all-reduce',
                'topology': 'dgx-a100',
                'gpus': 16,
                'size': '1MiB',
                'topology.device': 'a100-40gb',
                'network.protocol': 'nccl'},
        key='busbw_Bps', scale=1e-09, published=22.97, unit='GB/s',
        quantity=('nccl-tests all_reduce_perf bus bandwidth, 1 MiB, 2 OCI BM.GPU4.8 nodes (16 A100 40 '
                  'GB), NCCL 2.19.3'),
        quote=("README.md: '     1048576        262144     float     sum      -1    85.58   12.25   "
               "22.97      0    84.50   12.41   23.27      0'"),
        assumptions=_ASSUME_D1,
        confidence='medium',
        reason=("hardware from OCI's shape specification, not the log; RoCE cluster network under "
                'Kubernetes SR-IOV VFs; 1 MiB is latency-bound'),
        deviation='',
        gap=''),
    dict(
        name='oci-a100-16x-2node-allreduce-32MiB-busbw', document='D1', kind='collective',
        params={'op': 'all-reduce',
                'topology': 'dgx-a100',
                'gpus': 16,
                'size': '32MiB',
                'topology.device': 'a100-40gb',
                'network.protocol': 'nccl'},
        key='busbw_Bps', scale=1e-09, published=139.08, unit='GB/s',
        quantity=('nccl-tests all_reduce_perf bus bandwidth, 32 MiB, 2 OCI BM.GPU4.8 nodes (16 A100 40'
                  ' GB), NCCL 2.19.3'),
        quote=("README.md: '    33554432       8388608     float     sum      -1    452.3   74.18  "
               "139.08      0    452.0   74.24  139.19      0'"),
        assumptions=_ASSUME_D1,
        confidence='medium',
        reason=("hardware from OCI's shape specification, not the log; RoCE cluster network under "
                'Kubernetes SR-IOV VFs; 32 MiB mid-ramp'),
        deviation='',
        gap=''),
    dict(
        name='oci-a100-16x-2node-allreduce-1GiB-busbw', document='D1', kind='collective',
        params={'op': 'all-reduce',
                'topology': 'dgx-a100',
                'gpus': 16,
                'size': '1GiB',
                'topology.device': 'a100-40gb',
                'network.protocol': 'nccl'},
        key='busbw_Bps', scale=1e-09, published=219.12, unit='GB/s',
        quantity=('nccl-tests all_reduce_perf bus bandwidth, 1 GiB, 2 OCI BM.GPU4.8 nodes (16 A100 40 '
                  'GB), NCCL 2.19.3'),
        quote=("README.md: '  1073741824     268435456     float     sum      -1   9187.8  116.87  "
               "219.12      0   9073.4  118.34  221.89      0'"),
        assumptions=_ASSUME_D1,
        confidence='medium',
        reason=("hardware from OCI's shape specification, not the log; RoCE cluster network under "
                'Kubernetes SR-IOV VFs; the log jumps from 156 GB/s at 512 MiB to 219 at 1 GiB (an '
                "algorithm switch in NCCL's choice, tree above the NICs' ring rate)"),
        deviation='',
        gap=''),
    dict(
        name='oci-a100-16x-2node-allreduce-8GiB-busbw', document='D1', kind='collective',
        params={'op': 'all-reduce',
                'topology': 'dgx-a100',
                'gpus': 16,
                'size': '8GiB',
                'topology.device': 'a100-40gb',
                'network.protocol': 'nccl'},
        key='busbw_Bps', scale=1e-09, published=237.94, unit='GB/s',
        quantity=('nccl-tests all_reduce_perf bus bandwidth, 8 GiB, 2 OCI BM.GPU4.8 nodes (16 A100 40 '
                  'GB), NCCL 2.19.3'),
        quote=("README.md: '  8589934592    2147483648     float     sum      -1    67689  126.90  "
               "237.94      0    67811  126.68  237.52      0'"),
        assumptions=_ASSUME_D1,
        confidence='medium',
        reason=("hardware from OCI's shape specification, not the log; RoCE cluster network under "
                "Kubernetes SR-IOV VFs; asymptotic; above the 200 GB/s a node's NICs carry with a "
                "ring, so NCCL's tree (or NVLS-free split) is implied"),
        deviation='',
        gap=''),
    dict(
        name='oci-b4-a100-16x-2node-ring-allreduce-1GiB-busbw', document='D2', kind='collective',
        params={'op': 'all-reduce',
                'topology': 'dgx-a100',
                'gpus': 16,
                'size': '1GiB',
                'topology.device': 'a100-40gb',
                'algorithm': 'ring',
                'network.protocol': 'nccl'},
        key='busbw_Bps', scale=1e-09, published=184.92, unit='GB/s',
        quantity=('nccl-tests all_reduce_perf bus bandwidth, 1 GiB, 2 OCI BM.GPU.B4.8 nodes (16 A100 '
                  '40 GB), NCCL 2.29.3, NCCL_ALGO=Ring'),
        quote=("docs/running-nccl-rccl-tests-from-slurm-operator.md: '  1073741824     268435456     "
               'float     sum      -1  10887.4   98.62  184.92       0  10867.5   98.80  185.26       '
               "0'"),
        assumptions=_ASSUME_D2,
        confidence='medium',
        reason=("hardware from OCI's shape specification; the algorithm (Ring) is stated; the NICs' "
                "count and rate are the shape's, not the log's; 1 GiB near the asymptote"),
        deviation='',
        gap=("reading: the registered `--algorithm ring` (the CLI's spelling a user reaches for when "
             "the script sets NCCL_ALGO=Ring) runs simtrain's named ring with its default of one "
             "channel, so every byte crosses one of the node's eight 200 Gbit/s NICs (23.7 GB/s, 0.95 "
             'x 25 GB/s); NCCL_ALGO=Ring only fixes the algorithm and NCCL still opens a channel per '
             "NIC (the log's 184.9 GB/s, 0.92 x the node's 200 GB/s); the same command with `auto` "
             "(D1's 1 GiB row) gives 187.3 GB/s, 1.3 % from this log: the miss is the mapping of "
             'NCCL_ALGO=Ring onto a one-channel `ring`, not the network model')),
    dict(
        name='oci-b4-a100-16x-2node-ring-allreduce-8GiB-busbw', document='D2', kind='collective',
        params={'op': 'all-reduce',
                'topology': 'dgx-a100',
                'gpus': 16,
                'size': '8GiB',
                'topology.device': 'a100-40gb',
                'algorithm': 'ring',
                'network.protocol': 'nccl'},
        key='busbw_Bps', scale=1e-09, published=189.6, unit='GB/s',
        quantity=('nccl-tests all_reduce_perf bus bandwidth, 8 GiB, 2 OCI BM.GPU.B4.8 nodes (16 A100 '
                  '40 GB), NCCL 2.29.3, NCCL_ALGO=Ring'),
        quote=("docs/running-nccl-rccl-tests-from-slurm-operator.md: '  8589934592    2147483648     "
               'float     sum      -1  84948.7  101.12  189.60       0  84992.3  101.07  189.50       '
               "0' ('At 8 GiB, the out-of-place and in-place bus bandwidth results are 189.60 GB/s and"
               " 189.50 GB/s.')"),
        assumptions=_ASSUME_D2,
        confidence='medium',
        reason=("hardware from OCI's shape specification; the algorithm (Ring) is stated; the NICs' "
                "count and rate are the shape's, not the log's; asymptotic ring rate, 0.95 x the 200 "
                "GB/s of the node's NICs"),
        deviation='',
        gap=("reading: as at 1 GiB: simtrain's one-channel named `ring` (23.7 GB/s) against NCCL's "
             "multi-channel Ring (189.6 GB/s); the `auto` command (D1's 8 GiB row) gives 189.7 GB/s, "
             'within 0.1 % of this log')),
    dict(
        name='oci-mi300x-16x-2node-allreduce-1GiB-busbw', document='D3', kind='collective',
        params={'op': 'all-reduce',
                'topology': 'mi300x',
                'gpus': 16,
                'size': '1GiB',
                'network.protocol': 'nccl'},
        key='busbw_Bps', scale=1e-09, published=349.95, unit='GB/s',
        quantity=('rccl-tests all_reduce_perf bus bandwidth, 1 GiB, 2 OCI BM.GPU.MI300X.8 nodes (16 '
                  'MI300X)'),
        quote=("docs/running-nccl-rccl-tests-from-slurm-operator.md: '  1073741824     268435456     "
               "float     sum      -1   5753.0  186.64  349.95      0   5754.5  186.59  349.86      0'"),
        assumptions=_ASSUME_D3,
        confidence='medium',
        reason=("hardware (NIC count and rate) from OCI's shape specification; RCCL's version and "
                "tuning not printed; busbw above the 400 GB/s-a-node NICs' ring rate share implies "
                "RCCL's tree or a split algorithm"),
        deviation='',
        gap=''),
    dict(
        name='oci-mi300x-16x-2node-allreduce-8GiB-busbw', document='D3', kind='collective',
        params={'op': 'all-reduce',
                'topology': 'mi300x',
                'gpus': 16,
                'size': '8GiB',
                'network.protocol': 'nccl'},
        key='busbw_Bps', scale=1e-09, published=357.04, unit='GB/s',
        quantity=('rccl-tests all_reduce_perf bus bandwidth, 8 GiB, 2 OCI BM.GPU.MI300X.8 nodes (16 '
                  'MI300X)'),
        quote=("docs/running-nccl-rccl-tests-from-slurm-operator.md: '  8589934592    2147483648     "
               "float     sum      -1    45110  190.42  357.04      0    45132  190.33  356.87      0'"
               " ('At 8 GiB, the out-of-place and in-place bus bandwidth results are 357.04 GB/s and "
               "356.87 GB/s.')"),
        assumptions=_ASSUME_D3,
        confidence='medium',
        reason=("hardware (NIC count and rate) from OCI's shape specification; RCCL's version and "
                'tuning not printed; asymptotic'),
        deviation='',
        gap=''),
    dict(
        name='oci-mi300x-16x-2node-allreduce-16GiB-busbw', document='D3', kind='collective',
        params={'op': 'all-reduce',
                'topology': 'mi300x',
                'gpus': 16,
                'size': '16GiB',
                'network.protocol': 'nccl'},
        key='busbw_Bps', scale=1e-09, published=358.37, unit='GB/s',
        quantity=('rccl-tests all_reduce_perf bus bandwidth, 16 GiB, 2 OCI BM.GPU.MI300X.8 nodes (16 '
                  'MI300X)'),
        quote=("docs/running-nccl-rccl-tests-from-slurm-operator.md: ' 17179869184    4294967296     "
               "float     sum      -1    89885  191.13  358.37      0    89917  191.06  358.24      0'"),
        assumptions=_ASSUME_D3,
        confidence='medium',
        reason=("hardware (NIC count and rate) from OCI's shape specification; RCCL's version and "
                'tuning not printed; the largest size of the log'),
        deviation='',
        gap=''),
)


register_probe_rows(28, (
    {**row, "source_id": _DOCUMENTS[row["document"]][0], "document": _DOCUMENTS[row["document"]][1],
     "page": _DOCUMENTS[row["document"]][2]}
    for row in _ROWS))

