using Gadget.Protocol.V1;
using Gadget.Tracing;
using Google.Protobuf;
using Xunit;

namespace Gadget.Tests.Client;

/// <summary>The queue between a trace's readers and the pipeline: bounded, ordered, and never stuck.</summary>
public sealed class ItemQueueTests
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task AnAdderWaitsForRoomAndItemsComeOutInOrder()
    {
        var queue = new ItemQueue(capacity: 2);
        queue.Add(1, CancellationToken.None);
        queue.Add(2, CancellationToken.None);
        Task third = Task.Run(() => queue.Add(3, CancellationToken.None));

        Assert.NotSame(third, await Task.WhenAny(third, Task.Delay(200))); // a full queue took a third item
        Assert.True(queue.TryTake(out object? first, Long, CancellationToken.None));
        await third.WaitAsync(Long);
        Assert.True(queue.TryTake(out object? second, Long, CancellationToken.None));
        Assert.True(queue.TryTake(out object? last, Long, CancellationToken.None));
        Assert.Equal([1, 2, 3], new[] { first, second, last });
    }

    [Fact]
    public async Task ATakerIsWokenByTheFirstItem()
    {
        var queue = new ItemQueue(capacity: 4);
        Task<object?> taker = Task.Run(() => queue.TryTake(out object? item, Long, CancellationToken.None) ? item : null);

        await Task.Delay(100);
        queue.Add("event", CancellationToken.None);

        Assert.Equal("event", await taker.WaitAsync(Long));
    }

    [Fact]
    public void TakingFromAnEmptyQueueTimesOut()
    {
        var queue = new ItemQueue(capacity: 4);

        Assert.False(queue.TryTake(out object? item, TimeSpan.FromMilliseconds(50), CancellationToken.None));
        Assert.Null(item);
        Assert.False(queue.IsCompleted);
    }

    [Fact]
    public async Task CancellationWakesAWaitingAdderAndAWaitingTaker()
    {
        var full = new ItemQueue(capacity: 1);
        full.Add(1, CancellationToken.None);
        var empty = new ItemQueue(capacity: 1);
        using var stop = new CancellationTokenSource();
        Task adder = Task.Run(() => full.Add(2, stop.Token));
        Task<bool> taker = Task.Run(() => empty.TryTake(out _, Long, stop.Token));

        await Task.Delay(100);
        await stop.CancelAsync();

        Assert.False(await taker.WaitAsync(Long));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => adder.WaitAsync(Long));
    }

    [Fact]
    public async Task CompletingLetsTakersDrainThenEnds()
    {
        var queue = new ItemQueue(capacity: 4);
        queue.Add("last", CancellationToken.None);
        Task<bool> waiting = Task.Run(() =>
        {
            Assert.True(queue.TryTake(out _, Long, CancellationToken.None));
            return queue.TryTake(out _, Long, CancellationToken.None);
        });

        await Task.Delay(100);
        queue.CompleteAdding();

        Assert.False(await waiting.WaitAsync(Long));
        Assert.True(queue.IsCompleted);
        Assert.Throws<InvalidOperationException>(() => queue.Add("late", CancellationToken.None));
    }

    [Fact]
    public void ATakerOpensChunksInOrderAndEndsAfterTheLastEventOfTheLastChunk()
    {
        var queue = new ItemQueue(capacity: 4);
        var taker = new ItemTaker(queue);
        GadgetEvent[] first = Events(1, 2, 3);
        GadgetEvent[] second = Events(4);
        queue.Add(first, CancellationToken.None);
        queue.Add("statistics", CancellationToken.None);
        queue.Add(second, CancellationToken.None);
        queue.CompleteAdding();

        var taken = new List<object?>();
        while (!taker.IsCompleted)
        {
            Assert.True(taker.TryTake(out object? item, Long, CancellationToken.None));
            taken.Add(item);
        }

        Assert.Equal([first[0], first[1], first[2], "statistics", second[0]], taken);
        Assert.False(taker.TryTake(out _, TimeSpan.FromMilliseconds(10), CancellationToken.None));
    }

    private static GadgetEvent[] Events(params uint[] pids)
    {
        var exec = new Gadgets.AgentRows(Gadgets.TestGadgets.Get("exec"));
        foreach (uint pid in pids)
        {
            exec.Add(new Gadgets.RecordBuilder(exec.Gadget).Set("proc.pid", pid).SetString("exe_path", "/bin/true").EndInTail(0).Build());
        }

        return exec.ToEvents(new EventOrigin("node"));
    }
}
