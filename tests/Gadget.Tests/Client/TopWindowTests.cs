using Gadget.Agent.Gadgets;
using Gadget.Protocol.V1;
using Gadget.Tests.Gadgets;
using Gadget.Tracing;
using Google.Protobuf;
using Xunit;

namespace Gadget.Tests.Client;

/// <summary>
/// A top's windows on the client: a batch with a window becomes one item of typed rows carrying
/// the window's times, and the windows of several nodes are put together, sorted by the gadget's
/// main figure (bytes for block I/O) and cut, in window order.
/// </summary>
public sealed class TopWindowTests
{
    private static readonly DateTime Start = new(2026, 12, 4, 21, 0, 0, DateTimeKind.Utc);

    [Fact]
    public void AWindowArrivesWholeWithItsTimesOnEveryRow()
    {
        TopWindowRows window = Window("node-a", 3, (100, 4096), (101, 65536));

        Assert.Equal(("node-a", 3ul), (window.Node, window.Index));
        Assert.Equal((Start.AddSeconds(2), Start.AddSeconds(3)), (window.Start, window.End));
        Assert.Equal([100, 101], window.Rows.Select(r => r.Pid));
        TopBlockIORow row = Assert.IsType<TopBlockIORow>(window.Rows[1]);
        Assert.Equal((window.Start, window.End, window.End), (row.IntervalStart, row.IntervalEnd, row.Timestamp));
        Assert.Equal(65536ul, row.Bytes);
        Assert.Equal("vda", row.DeviceName);
        Assert.Equal(DateTimeKind.Utc, row.IntervalEnd.Kind);
    }

    [Fact]
    public void TheSchemaNamesTheMainFigure()
    {
        Assert.Equal("bytes", TestGadgets.Get("top_blockio").Schema.SortBy);
    }

    [Fact]
    public void NodesRowsOfOneWindowAreMergedSortedAndCut()
    {
        var merger = new TopWindowMerger(["node-a", "node-b"], top: 3);

        // node-a's first window waits for node-b's.
        Assert.Empty(merger.Add(Window("node-a", 1, (1, 10), (2, 500), (3, 40))));
        Assert.Empty(merger.Add(Window("node-a", 2, (4, 7))));
        MergedTopWindow first = Assert.Single(merger.Add(Window("node-b", 1, (11, 300), (12, 600))));

        Assert.Equal(1ul, first.Index);
        Assert.Equal(5, first.TotalRows);
        Assert.Equal([12, 2, 11], first.Rows.Select(r => r.Row.Pid));
        Assert.Equal(["node-b", "node-a", "node-b"], first.Rows.Select(r => r.Window.Node));
        Assert.Equal([600ul, 500ul, 300ul], first.Rows.Select(r => ((TopBlockIORow)r.Row).Bytes));

        // A node that ends no longer holds the others back.
        MergedTopWindow second = Assert.Single(merger.NodeEnded("node-b"));
        Assert.Equal((2ul, 4), (second.Index, second.Rows.Single().Row.Pid));
        Assert.Empty(merger.Flush());
    }

    [Fact]
    public void WindowsComeOutInOrderAndFlushGivesTheRest()
    {
        // Each node's windows come in order; node-b runs two windows ahead of node-a.
        var merger = new TopWindowMerger(["node-a", "node-b"], top: 0);
        Assert.Empty(merger.Add(Window("node-b", 1, (10, 9))));
        Assert.Empty(merger.Add(Window("node-b", 2, (20, 1))));
        MergedTopWindow first = Assert.Single(merger.Add(Window("node-a", 1, (11, 9), (12, 9))));
        Assert.Equal([11, 12, 10], first.Rows.Select(r => r.Row.Pid)); // ties keep the nodes' order, then the kernel's
        IReadOnlyList<MergedTopWindow> released = merger.Add(Window("node-a", 2, (21, 2)));
        Assert.Equal(2ul, Assert.Single(released).Index);
        Assert.Equal([21, 20], released[0].Rows.Select(r => r.Row.Pid));

        Assert.Empty(merger.Add(Window("node-a", 3, (30, 1))));
        Assert.Equal(3ul, Assert.Single(merger.Flush()).Index);
    }

    [Fact]
    public void AnEmptyWindowStillCounts()
    {
        var merger = new TopWindowMerger(["node-a"], top: 20);
        MergedTopWindow window = Assert.Single(merger.Add(Window("node-a", 1)));
        Assert.Empty(window.Rows);
        Assert.Equal(0, window.TotalRows);
    }

    /// <summary>One node's window of block I/O rows (pid, bytes), made by the agent's decoder from records laid out by the object's BTF, read back by the client's.</summary>
    private static TopWindowRows Window(string node, ulong index, params (int Pid, long Bytes)[] rows)
    {
        GadgetDefinition gadget = TestGadgets.Get("top_blockio");
        var agent = new AgentRows(gadget);
        foreach ((int pid, long bytes) in rows)
        {
            byte[] record = new RecordBuilder(gadget).Set("pid", pid).Set("bytes", bytes).Set("writes", 1).Set("major", 254).SetString("disk", "vda").SetString("comm", "dd").Build();
            Assert.True(agent.Add(record));
        }

        EventBatch message = agent.Batch.ToMessage();
        message.Window = new TopWindow
        {
            Index = index,
            StartUnixNs = UnixNs(Start.AddSeconds(index - 1)),
            EndUnixNs = UnixNs(Start.AddSeconds(index)),
        };
        var decoder = new TraceReplyDecoder(new EventOrigin(node));
        decoder.Decode(ClientRows.SchemaReply(gadget.Schema));
        return decoder.Decode(new TraceReply { Batch = message }.ToByteArray()).Window!;
    }

    private static long UnixNs(DateTime utc) => (utc.Ticks - DateTime.UnixEpoch.Ticks) * 100;
}
