import multiprocessing
import threading

from saleor_cryptopay.providers.nonce import FileNonce, MonotonicNonce

PROCESSES = 4
PER_PROCESS = 400


def _take(path, count, queue):
    source = FileNonce(path)
    queue.put([source.next() for _ in range(count)])


def test_file_nonce_unique_and_increasing_across_processes(tmp_path):
    path = tmp_path / "nonce"
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_take, args=(path, PER_PROCESS, queue)) for _ in range(PROCESSES)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    every = [n for seq in results for n in seq]
    assert len(every) == len(set(every)) == PROCESSES * PER_PROCESS
    for seq in results:
        assert all(a < b for a, b in zip(seq, seq[1:], strict=False))
    # the file holds the largest value handed out: the next one is above all
    assert FileNonce(path).next() > max(every)


def test_file_nonce_threads(tmp_path):
    source = FileNonce(tmp_path / "n")
    out, lock = [], threading.Lock()

    def take():
        values = [source.next() for _ in range(200)]
        with lock:
            out.extend(values)

    threads = [threading.Thread(target=take) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(out)) == 1600


def test_file_nonce_survives_garbage_in_file(tmp_path):
    path = tmp_path / "n"
    path.write_text("not a number")
    assert FileNonce(path).next() > 0


def test_monotonic_nonce_threads():
    source = MonotonicNonce()
    out = []
    threads = [
        threading.Thread(target=lambda: out.extend(source.next() for _ in range(500)))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(out)) == 2000
