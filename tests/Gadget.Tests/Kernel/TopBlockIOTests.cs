using System.Diagnostics;
using System.Runtime.InteropServices;
using Gadget.Agent.Containers;
using Gadget.Agent.Decoding;
using Gadget.Agent.Runtime;
using Gadget.Protocol.V1;
using Gadget.Tests.Gadgets;
using Gadget.Tracing;
using Google.Protobuf;
using Xunit;

namespace Gadget.Tests.Kernel;

/// <summary>
/// The block I/O top loaded into the real kernel: this process writes with O_DIRECT to a loop
/// device the test makes, and the window read from the kernel's map holds those writes, counted
/// per process and device, then nothing more once the map was emptied.
/// </summary>
[Collection(KernelTests.Name)]
public sealed partial class TopBlockIOTests : IDisposable
{
    private const int BlockSize = 64 * 1024;
    private const int Writes = 24;
    private const int O_WRONLY = 1;
    private const int O_DIRECT = 0x4000;

    private readonly string _backing = Path.Combine(Path.GetTempPath(), $"gadget-top-{Guid.NewGuid():N}.img");
    private string? _device;

    [KernelFact]
    public void AWindowHoldsThisProcesssDirectWritesToALoopDevice()
    {
        string device = LoopDevice();
        using TopRun run = Start(new TraceRequest { Gadget = "top_blockio", Filter = new ProcessFilter { Pid = (uint)Environment.ProcessId } });
        Assert.True(run.DrainsInBatches);

        string comm = WriteDirect(device, Writes);
        TopBlockIORow row = Assert.Single(Rows(run, "node-a"), r => r.DeviceName == Path.GetFileName(device));

        (uint major, uint minor) = DeviceNumbers(device);
        Assert.Equal((major, minor), (row.Major, row.Minor));
        Assert.Equal(Environment.ProcessId, row.Pid);
        Assert.Equal(comm, row.Comm); // the process's name (its thread-group leader's)
        Assert.Equal(0ul, row.Reads);

        // Each write is one request of 64 KiB or is split into several; the fsync adds a flush.
        Assert.InRange(row.Writes, (ulong)Writes, (ulong)Writes * 16 + 1);
        Assert.Equal((ulong)Writes * BlockSize, row.Bytes);
        Assert.True(row.Time > TimeSpan.Zero);
        Assert.True(row.IntervalStart < row.IntervalEnd);
        Assert.Equal(row.IntervalEnd, row.Timestamp);
        Assert.InRange(row.IntervalEnd, DateTime.Now.AddSeconds(-30), DateTime.Now);

        // The window emptied the map: the next one has nothing of this process.
        Assert.Empty(Rows(run, "node-a"));
        TraceCounters counters = run.Counters(1);
        Assert.Equal(0ul, counters.LostKernel + counters.Malformed + counters.FilteredAgent);
    }

    [KernelFact]
    public void KeyByKeyReadsTheSameCountsAsBatches()
    {
        string device = LoopDevice();
        using TopRun run = Start(new TraceRequest { Gadget = "top_blockio", Filter = new ProcessFilter { Pid = (uint)Environment.ProcessId } });
        run.DrainsInBatches = false;

        WriteDirect(device, 8);
        TopBlockIORow row = Assert.Single(Rows(run, "node-a"), r => r.DeviceName == Path.GetFileName(device));
        Assert.Equal(8ul * BlockSize, row.Bytes);
        Assert.Empty(Rows(run, "node-a"));
    }

    [KernelFact]
    public void ThePidFilterRunsInTheKernel()
    {
        string device = LoopDevice();
        using TopRun run = Start(new TraceRequest { Gadget = "top_blockio", Filter = new ProcessFilter { Pid = 1 } });

        WriteDirect(device, 4);
        Assert.DoesNotContain(Rows(run, "node-a"), r => r.Pid == Environment.ProcessId);
        Assert.Equal(0ul, run.Counters(0).FilteredAgent);
    }

    public void Dispose()
    {
        if (_device is not null)
        {
            Run("losetup", "-d", _device);
        }

        File.Delete(_backing);
    }

    private static TopRun Start(TraceRequest request) => TopRun.Start(TestGadgets.Get("top_blockio"), request, new TraceSettings(), new ContainerCollection());

    /// <summary>One window through the agent's batch message and the client's reader, as typed rows.</summary>
    private static List<TopBlockIORow> Rows(TopRun run, string node)
    {
        DateTime start = DateTime.UtcNow.AddSeconds(-1);
        RowBatch batch = run.DrainWindow();
        DateTime end = DateTime.UtcNow;
        EventBatch message = batch.ToMessage();
        message.Window = new TopWindow { Index = 1, StartUnixNs = UnixNs(start), EndUnixNs = UnixNs(end) };
        var decoder = new TraceReplyDecoder(new EventOrigin(node));
        decoder.Decode(ClientRows.SchemaReply(run.Schema));
        TopWindowRows window = decoder.Decode(new TraceReply { Batch = message }.ToByteArray()).Window!;
        Assert.Equal((node, 1ul), (window.Node, window.Index));
        var rows = window.Rows.Cast<TopBlockIORow>().ToList();
        Assert.All(rows, r => Assert.Equal((window.Start, window.End), (r.IntervalStart, r.IntervalEnd)));
        return rows;
    }

    private static long UnixNs(DateTime utc) => (utc.Ticks - DateTime.UnixEpoch.Ticks) * 100;

    /// <summary>A 16 MiB loop device over a file of the test's own.</summary>
    private string LoopDevice()
    {
        using (FileStream file = File.Create(_backing))
        {
            file.SetLength(16 << 20);
        }

        _device = Run("losetup", "-f", "--show", _backing).Trim();
        return _device;
    }

    /// <summary>
    /// count writes of 64 KiB with O_DIRECT from this thread, then fsync: requests the block layer
    /// starts and completes for this pid. Returns the thread's name, which the rows carry.
    /// </summary>
    private static unsafe string WriteDirect(string device, int count)
    {
        string comm = File.ReadAllText("/proc/self/comm").TrimEnd('\n');
        int fd = open(device, O_WRONLY | O_DIRECT);
        Assert.True(fd >= 0, $"open {device}: errno {Marshal.GetLastPInvokeError()}");
        void* buffer = NativeMemory.AlignedAlloc(BlockSize, 4096);
        try
        {
            new Span<byte>(buffer, BlockSize).Fill(0x5a);
            for (int i = 0; i < count; i++)
            {
                Assert.Equal(BlockSize, (long)pwrite(fd, buffer, BlockSize, (long)i * BlockSize));
            }

            Assert.Equal(0, fsync(fd));
        }
        finally
        {
            NativeMemory.AlignedFree(buffer);
            _ = close(fd);
        }

        return comm;
    }

    private static (uint Major, uint Minor) DeviceNumbers(string device)
    {
        string[] parts = File.ReadAllText($"/sys/class/block/{Path.GetFileName(device)}/dev").Trim().Split(':');
        return (uint.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture), uint.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture));
    }

    private static string Run(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(start)!;
        string output = process.StandardOutput.ReadToEnd();
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{file} {string.Join(' ', arguments)}: {error}");
        return output;
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint pwrite(int fd, void* buffer, nint count, long offset);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fsync(int fd);

    [LibraryImport("libc")]
    private static partial int close(int fd);
}
