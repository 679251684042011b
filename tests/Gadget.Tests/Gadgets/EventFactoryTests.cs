using Gadget.Agent.Gadgets;
using Gadget.Bpf;
using Gadget.Protocol.V1;
using Xunit;

namespace Gadget.Tests.Gadgets;

/// <summary>How one trace's events and batches are made and reused.</summary>
public sealed unsafe class EventFactoryTests
{
    private readonly BootClock _clock = BootClock.Now();
    private readonly EventFactory _events;

    public EventFactoryTests() => _events = new EventFactory(_clock);

    [Fact]
    public void AWrittenBatchsEventsAndTheBatchItselfAreReusedEmpty()
    {
        EventBatch batch = _events.NewBatch();
        Event first = _events.New(Process(1), 0);
        Event second = _events.New(Process(2), 0);
        Assert.NotSame(first, second);
        batch.Events.Add(first);
        batch.Events.Add(second);
        batch.Containers.Add(new ContainerInfo { MntnsId = 5 });

        _events.Recycle(batch);
        Event reused = _events.New(Process(3), 0);
        EventBatch next = _events.NewBatch();

        Assert.True(ReferenceEquals(reused, first) || ReferenceEquals(reused, second));
        Assert.Equal(3u, reused.Pid);
        Assert.Same(batch, next);
        Assert.Empty(next.Events);
        Assert.Empty(next.Containers);
    }

    [Fact]
    public void EveryCommonFieldIsSetAnew()
    {
        Event e = _events.New(Process(1, mntns: 11, comm: "old"), 0);
        var batch = new EventBatch();
        batch.Events.Add(e);
        _events.Recycle(batch);

        ProcessRecord process = Process(2, mntns: 22, comm: "new");
        process.Tid = 3;
        process.Ppid = 4;
        process.Uid = 5;
        process.Gid = 6;
        process.NetnsId = 33;
        Event reused = _events.New(process, 1_000);

        Assert.Same(e, reused);
        Assert.Equal((2u, 3u, 4u, 5u, 6u), (reused.Pid, reused.Tid, reused.Ppid, reused.Uid, reused.Gid));
        Assert.Equal((22ul, 33ul), (reused.MntnsId, reused.NetnsId));
        Assert.Equal("new", reused.Comm);
        Assert.Equal(_clock.ToUnixNanoseconds(1_000), reused.TimestampUnixNs);
    }

    [Fact]
    public void AReleasedEventIsTheNextOneMade()
    {
        Event dropped = _events.New(Process(1), 0);
        _events.Release(dropped);

        Assert.Same(dropped, _events.New(Process(2), 0));
    }

    [Fact]
    public void KeepsABoundedNumberOfIdleEvents()
    {
        var batch = new EventBatch();
        for (int i = 0; i < EventFactory.MaxFreeEvents + 100; i++)
        {
            batch.Events.Add(new Event());
        }

        _events.Recycle(batch);
        _ = _events.New(Process(1), 0);

        Assert.Equal(EventFactory.MaxFreeEvents - 1, _events.FreeEvents);
    }

    private static ProcessRecord Process(uint pid, ulong mntns = 4026531840, string comm = "true")
    {
        var process = new ProcessRecord { Pid = pid, MntnsId = mntns };
        System.Text.Encoding.UTF8.GetBytes(comm, new Span<byte>(process.Comm, 16));
        return process;
    }
}
