"""tinygrad_rnn.distributed and DistributedDataParallel: real `mpiexec -n 2` runs of
tests/mpi_worker_ddp.py (skipped, with the reason, without mpi4py and mpiexec), and the
sharding helpers, which need no MPI."""
import importlib.util
import os
import pathlib
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

import tinygrad_rnn as tg
import tinygrad_rnn.distributed as dist

HERE = pathlib.Path(__file__).resolve().parent
WORKER = HERE / "mpi_worker_ddp.py"
LIMIT = 120          # seconds: the machine is shared; each run takes about a second alone


def _mpiexec():
    local = pathlib.Path(sys.executable).parent / "mpiexec"
    return str(local) if local.exists() else shutil.which("mpiexec")


MPI_MISSING = ("mpi4py is not installed (pip install 'tinygrad_rnn[mpi]')"
               if importlib.util.find_spec("mpi4py") is None else
               "mpiexec is not on PATH (the mpich wheel brings it)" if _mpiexec() is None else None)
needs_mpi = pytest.mark.skipif(MPI_MISSING is not None, reason=str(MPI_MISSING))


def run_ranks(n: int, *args, **env):
    environment = {**os.environ, "OPENBLAS_NUM_THREADS": "1", **env}
    started = time.monotonic()
    done = subprocess.run([_mpiexec(), "-n", str(n), sys.executable, str(WORKER), *args],
                          capture_output=True, text=True, timeout=LIMIT, env=environment)
    return done, time.monotonic() - started


@needs_mpi
@pytest.mark.parametrize("bucket_mb", ["0.0005", "25"])     # many buckets; one bucket
def test_two_ranks_on_half_batches_step_like_one_rank_on_the_whole(tmp_path, bucket_mb):
    results = {}
    for n in (1, 2):
        done, _ = run_ranks(n, "train", str(tmp_path / f"w{n}.npz"), BUCKET_MB=bucket_mb)
        assert done.returncode == 0, done.stderr
        results[n] = np.load(tmp_path / f"w{n}.npz")
    one, two = results[1], results[2]
    assert sorted(one) == sorted(two)
    for name in one:
        np.testing.assert_allclose(two[name], one[name], rtol=0, atol=1e-10, err_msg=name)


@needs_mpi
@pytest.mark.parametrize("mode, said", [("die", None),
                                        ("raise", "uncaught ValueError: rank 1 fails on purpose"),
                                        ("stuck", "waited 3 s for the other ranks")])
def test_a_rank_that_dies_raises_or_hangs_ends_every_rank(tmp_path, mode, said):
    done, seconds = run_ranks(2, mode, str(tmp_path / "w.npz"), WORKER_TIMEOUT="3")
    assert done.returncode == (7 if mode == "die" else 1)   # mpiexec returns the failed rank's code
    assert not (tmp_path / "w.npz").exists()      # rank 0 never finished training
    if said is not None:
        assert said in done.stderr and "aborting all ranks" in done.stderr, done.stderr
    assert seconds < LIMIT


def each_rank_says(tmp_path, mode: str, exit_code: int, *lines: str) -> None:
    done, _ = run_ranks(2, mode, str(tmp_path / "w.npz"))
    assert done.returncode == exit_code, done.stderr
    for r in (0, 1):
        for line in lines:
            assert f"rank {r}: {line}" in done.stdout, done.stdout


@needs_mpi
def test_mismatched_models_are_refused_naming_the_parameter(tmp_path):
    each_rank_says(tmp_path, "mismatch", 3, "DistributedDataParallel: the model differs between "
                   "ranks: parameter 'lstm.weight_ih_l0'")


def test_without_init_a_single_process_is_rank_0_of_1():
    assert (dist.rank(), dist.world_size(), dist.is_initialized()) == (0, 1, False)
    with pytest.raises(RuntimeError, match="init"):
        dist.all_reduce(tg.ones(3))


def test_shards_are_equal_disjoint_and_cover_the_batch():
    batch = tg.arange(12).reshape(6, 2)
    rows = [dist.shard_batch(batch, 3, r).numpy() for r in range(3)]
    np.testing.assert_array_equal(np.concatenate(rows), batch.numpy())
    with pytest.raises(ValueError, match="6 rows does not split into 4"):
        dist.shard_range(6, 4, 0)


@pytest.mark.parametrize("length, drop_last", [(10, False), (10, True), (3, False)])
def test_sampler_gives_each_rank_its_own_deterministic_share(length, drop_last):
    def shares(epoch):
        out = []
        for r in range(4):
            s = dist.DistributedSampler(length, num_replicas=4, rank=r, seed=5, drop_last=drop_last)
            s.set_epoch(epoch)
            out.append(list(s))
            assert len(s) == len(out[-1])
        return out
    first = shares(0)
    assert first == shares(0)                        # the same on every call (and rank)
    assert first != shares(1) or length < 4
    flat = sorted(i for share in first for i in share)
    if drop_last:
        assert len(set(flat)) == len(flat) == 8      # disjoint, the tail left out
    else:
        assert set(flat) == set(range(length))       # all covered, padded by repeating
        assert len({len(s) for s in first}) == 1


CHARLM = ["train", "charlm", "--corpus", "sonnets", "--hidden", "16", "--embedding", "8",
          "--batch", "4", "--seq-len", "8", "--sample-every", "3", "--sample-length", "10",
          "--eval-every", "0", "--checkpoint-every", "0"]


def charlm(tmp_path, ranks: int, out: str, steps: int, *extra):
    cli = [str(pathlib.Path(sys.executable).parent / "tinygrad-rnn"), *CHARLM,
           "--steps", str(steps), "--out", str(tmp_path / out), *extra]
    command = cli if ranks == 1 else [_mpiexec(), "-n", str(ranks), *cli, "--distributed"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=LIMIT,
                          env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr
    return done.stdout


@needs_mpi
def test_train_charlm_distributed_steps_like_one_process_and_resumes_with_any_world(tmp_path):
    charlm(tmp_path, 1, "alone", 6)
    shown = charlm(tmp_path, 2, "two", 3)                 # 2 ranks, then 1 rank resumes
    assert shown.count("trained 3 steps") == 1 and shown.count("--- sample at step 3") == 1
    assert "2 ranks of 2 rows each" in shown
    charlm(tmp_path, 1, "two", 6, "--resume", str(tmp_path / "two" / "charlm.ckpt"))
    charlm(tmp_path, 1, "one", 3)                         # 1 rank, then 2 ranks resume
    charlm(tmp_path, 2, "one", 6, "--resume", str(tmp_path / "one" / "charlm.ckpt"))
    alone = tg.load(str(tmp_path / "alone" / "charlm.ckpt"))
    for other in ("two", "one"):
        resumed = tg.load(str(tmp_path / other / "charlm.ckpt"))
        assert resumed["step"] == 6
        for name, value in alone["model"].items():
            np.testing.assert_allclose(resumed["model"][name].numpy(), value.numpy(),
                                       rtol=0, atol=2e-6, err_msg=f"{other}: {name}")


@needs_mpi
def test_unused_parameters_need_finish_and_no_sync_accumulates(tmp_path):
    each_rank_says(tmp_path, "unused", 0, "DistributedDataParallel: the last backward gave no "
                   "gradient to spare.bias, spare.weight", "same after finish: True",
                   "spare grad None: True", "no_sync then sync averages the sum: True")
