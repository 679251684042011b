using System.Diagnostics;
using Gadget.Agent.Containers;
using Gadget.Agent.Runtime;
using Gadget.Protocol.V1;
using Gadget.Tests.Gadgets;
using Gadget.Tracing;
using Google.Protobuf;
using Xunit;

namespace Gadget.Tests.Kernel;

/// <summary>
/// The file top loaded into the real kernel: a child process writes a file of the test's own a
/// known number of times and reads it back, and the window holds exactly those calls and bytes,
/// with the file's path and inode.
/// </summary>
[Collection(KernelTests.Name)]
public sealed class TopFileTests : IDisposable
{
    private const int Times = 7;
    private const int Chunk = 100;

    /// <summary>Waits for a line, then writes Chunk bytes Times times and reads them back in Chunk-byte reads, with unbuffered calls.</summary>
    private const string Script = """
        import os, sys
        path = sys.argv[1]
        sys.stdin.readline()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        for _ in range(7):
            os.write(fd, b'w' * 100)
        os.close(fd)
        fd = os.open(path, os.O_RDONLY)
        for _ in range(7):
            os.read(fd, 100)
        os.close(fd)
        """;

    private readonly string _directory = Directory.CreateTempSubdirectory("gadget-topfile-").FullName;

    [KernelFact]
    public void AWindowHoldsEveryReadAndWriteOfAFileWithItsPath()
    {
        string file = Path.Combine(_directory, "counted.txt");
        (TopRun run, Process child) = Start(file, allFiles: false);
        using (run)
        using (child)
        {
            List<TopFileRow> rows = Rows(run);
            TopFileRow row = Assert.Single(rows, r => r.Path == file);
            Assert.Equal(((ulong)Times, (ulong)Times), (row.Reads, row.Writes));
            Assert.Equal(((ulong)Times * Chunk, (ulong)Times * Chunk), (row.ReadBytes, row.WriteBytes));
            Assert.Equal(FileType.Regular, row.FileType);
            Assert.Equal(child.Id, row.Pid);
            Assert.Equal(Inode(file), row.Inode);
            // Regular files only by default: the child's stdin pipe is not counted.
            Assert.All(rows, r => Assert.Equal(FileType.Regular, r.FileType));
            Assert.Empty(Rows(run));
        }
    }

    [KernelFact]
    public void AllFilesCountsPipesToo()
    {
        string file = Path.Combine(_directory, "counted.txt");
        (TopRun run, Process child) = Start(file, allFiles: true);
        using (run)
        using (child)
        {
            List<TopFileRow> rows = Rows(run);
            Assert.Single(rows, r => r.Path == file && r.Writes == Times);
            Assert.Contains(rows, r => r.FileType == FileType.Other && r.Reads >= 1); // the line on its stdin pipe
        }
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    /// <summary>Starts the child, starts the top on its pid, lets the child run and waits for it.</summary>
    private static (TopRun Run, Process Child) Start(string file, bool allFiles)
    {
        var start = new ProcessStartInfo("python3") { RedirectStandardInput = true, UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(Script);
        start.ArgumentList.Add(file);
        Process child = Process.Start(start)!;
        var request = new TraceRequest { Gadget = "top_file", Filter = new ProcessFilter { Pid = (uint)child.Id } };
        if (allFiles)
        {
            request.Parameters["all-files"] = "true";
        }

        TopRun run = TopRun.Start(TestGadgets.Get("top_file"), request, new TraceSettings(), new ContainerCollection());
        child.StandardInput.WriteLine("go");
        child.StandardInput.Flush();
        Assert.True(child.WaitForExit(10_000));
        Assert.Equal(0, child.ExitCode);
        return (run, child);
    }

    private static List<TopFileRow> Rows(TopRun run)
    {
        EventBatch message = run.DrainWindow().ToMessage();
        message.Window = new TopWindow { Index = 1, StartUnixNs = 1, EndUnixNs = 2 };
        var decoder = new TraceReplyDecoder(new EventOrigin("node-a"));
        decoder.Decode(ClientRows.SchemaReply(run.Schema));
        return [.. decoder.Decode(new TraceReply { Batch = message }.ToByteArray()).Window!.Rows.Cast<TopFileRow>()];
    }

    private static ulong Inode(string path)
    {
        using Process stat = Process.Start(new ProcessStartInfo("stat", ["-c", "%i", path]) { RedirectStandardOutput = true })!;
        string text = stat.StandardOutput.ReadToEnd().Trim();
        stat.WaitForExit();
        return ulong.Parse(text, System.Globalization.CultureInfo.InvariantCulture);
    }
}
