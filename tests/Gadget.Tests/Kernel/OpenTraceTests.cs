using System.Diagnostics;
using Gadget.Tracing;
using TraceOptions = Gadget.Tracing.TraceOptions;
using Xunit;

namespace Gadget.Tests.Kernel;

/// <summary>The open gadget through a real agent: real opens by real processes.</summary>
[Collection(KernelTests.Name)]
public sealed class OpenTraceTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly string _directory = Directory.CreateTempSubdirectory("gadget-open-").FullName;

    /// <summary>A copy of /bin/sh under a name of its own, so a comm filter selects only this test's opens.</summary>
    private readonly string _shell;

    public OpenTraceTests()
    {
        _shell = Path.Combine(_directory, $"go{Guid.NewGuid():N}"[..15]);
        File.Copy("/bin/sh", _shell);
        File.SetUnixFileMode(_shell, UnixFileMode.UserRead | UnixFileMode.UserExecute);
    }

    private string Comm => Path.GetFileName(_shell);

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [KernelFact]
    public async Task WriteWithCreateReportsFlagsModeFdAndAccess()
    {
        string file = Path.Combine(_directory, "created.txt");
        List<OpenEvent> events = await TraceWhileAsync(new TraceOptions { Gadget = "open", Comm = Comm }, $"umask 022; echo x > {file}");

        OpenEvent open = Assert.Single(events, e => e.Path == file);
        Assert.Equal(OpenFlags.O_WRONLY | OpenFlags.O_CREAT | OpenFlags.O_TRUNC, open.Flags & (OpenFlags.O_WRONLY | OpenFlags.O_CREAT | OpenFlags.O_TRUNC));
        Assert.StartsWith("O_WRONLY|O_CREAT", open.FlagsText, StringComparison.Ordinal);
        Assert.Equal("0666", open.Mode); // the shell asks 0666; umask applies later
        Assert.True(open.Fd >= 0, $"fd {open.Fd}");
        Assert.Equal(Errno.None, open.Error);
        Assert.Equal(FileAccess.Write, open.Access);
        Assert.Equal(file, open.FullPath);
        Assert.Equal(Comm, open.Comm);
    }

    [KernelFact]
    public async Task ReadOnlyOpenAndMissingFile()
    {
        string file = Path.Combine(_directory, "read.txt");
        File.WriteAllText(file, "x");
        string missing = Path.Combine(_directory, $"missing-{Guid.NewGuid():N}");
        List<OpenEvent> events = await TraceWhileAsync(new TraceOptions { Gadget = "open", Comm = Comm }, $"read line < {file}; read line < {missing}; true");

        OpenEvent read = Assert.Single(events, e => e.Path == file);
        Assert.Equal(FileAccess.Read, read.Access);
        Assert.Equal("O_RDONLY", read.FlagsText);
        Assert.Null(read.Mode);
        Assert.Equal(Errno.None, read.Error);

        OpenEvent failed = Assert.Single(events, e => e.Path == missing);
        Assert.Equal(Errno.ENOENT, failed.Error);
        Assert.Equal(-1, failed.Fd);
    }

    [KernelFact]
    public async Task RelativePathIsResolvedAgainstTheWorkingDirectory()
    {
        string subdirectory = Directory.CreateDirectory(Path.Combine(_directory, "sub", "dir")).FullName;
        File.WriteAllText(Path.Combine(subdirectory, "rel.txt"), "x");
        List<OpenEvent> events = await TraceWhileAsync(new TraceOptions { Gadget = "open", Comm = Comm }, $"cd {subdirectory}; read line < rel.txt; read line < ../dir/./rel.txt; true");

        AssertOne(events, e => e.Path == "rel.txt", out OpenEvent relative);
        Assert.Equal(Path.Combine(subdirectory, "rel.txt"), relative.FullPath);
        AssertOne(events, e => e.Path == "../dir/./rel.txt", out OpenEvent dotted);
        Assert.Equal(Path.Combine(subdirectory, "rel.txt"), dotted.FullPath);
    }

    [KernelFact]
    public async Task PathAndAccessFiltersRunInTheKernel()
    {
        string target = Path.Combine(_directory, "resolv.conf");
        string other = Path.Combine(_directory, "other.conf");
        File.WriteAllText(target, "x");
        var options = new TraceOptions { Gadget = "open", Comm = Comm, Parameters = { ["path"] = target, ["access"] = "write" } };

        (List<OpenEvent> events, TraceStatistics statistics) = await TraceWithStatisticsAsync(options,
            $"read line < {target}; echo x > {other}; read line < {other}; echo y > {target}; echo z >> {target}; true");

        // Two writes of the target (O_TRUNC and O_APPEND); its read and the other file are not delivered …
        Assert.Equal(2, events.Count);
        Assert.All(events, e =>
        {
            Assert.Equal(target, e.Path);
            Assert.Equal(FileAccess.Write, e.Access);
        });
        // … and never left the kernel: the agent read exactly what it delivered.
        Assert.Equal(2ul, statistics.Seen);
        Assert.Equal(0ul, statistics.FilteredAgent);
    }

    [KernelFact]
    public async Task APathShorterThanTheKernelsFirstReadMatchesOnlyItself()
    {
        // The kernel decides most paths on their first 16 bytes: a filter that ends inside them
        // must still tell itself from its own prefix and from a longer path that starts with it.
        string target = $"/tmp/g{Guid.NewGuid():N}"[..14];
        File.WriteAllText(target, "x");
        try
        {
            var options = new TraceOptions { Gadget = "open", Comm = Comm, Parameters = { ["path"] = target } };
            (List<OpenEvent> events, TraceStatistics statistics) = await TraceWithStatisticsAsync(options,
                $"read line < {target}; read line < {target[..^1]}; read line < {target}x; true");

            OpenEvent open = Assert.Single(events);
            Assert.Equal(target, open.Path);
            Assert.Equal(1ul, statistics.Seen);
        }
        finally
        {
            File.Delete(target);
        }
    }

    [KernelFact]
    public async Task WildcardPathAndFailedOnly()
    {
        string present = Path.Combine(_directory, "a.conf");
        File.WriteAllText(present, "x");
        string missing = Path.Combine(_directory, "b.conf");
        var options = new TraceOptions { Gadget = "open", Comm = Comm, Parameters = { ["path"] = Path.Combine(_directory, "*.conf"), ["failed"] = "true" } };

        List<OpenEvent> events = await TraceWhileAsync(options, $"read line < {present}; read line < {missing}; read line < {_directory}/c.txt; true");

        OpenEvent failed = Assert.Single(events);
        Assert.Equal(missing, failed.Path);
        Assert.Equal(Errno.ENOENT, failed.Error);
    }

    private static void AssertOne(List<OpenEvent> events, Func<OpenEvent, bool> match, out OpenEvent found)
    {
        List<OpenEvent> matching = [.. events.Where(match)];
        Assert.True(matching.Count == 1, $"{matching.Count} matching events among: {string.Join("; ", events.Select(e => $"{e.Path} -> {e.FullPath}"))}");
        found = matching[0];
    }

    private async Task<List<OpenEvent>> TraceWhileAsync(TraceOptions options, string script)
        => (await TraceWithStatisticsAsync(options, script)).Events;

    /// <summary>Runs <paramref name="script"/> in the renamed shell once the trace is attached, then ends the trace.</summary>
    private async Task<(List<OpenEvent> Events, TraceStatistics Statistics)> TraceWithStatisticsAsync(TraceOptions options, string script)
    {
        using AgentProcess agent = await AgentProcess.StartAsync();
        var timed = new TraceOptions { Gadget = options.Gadget, Comm = options.Comm, Duration = TimeSpan.FromSeconds(3) };
        foreach ((string name, string value) in options.Parameters)
        {
            timed.Parameters[name] = value;
        }

        using var timeout = new CancellationTokenSource(Timeout);
        using var session = TraceSession.Start(agent.Connection, timed, "node-a", timeout.Token);
        var events = new List<OpenEvent>();
        Task reading = Task.Run(() =>
        {
            while (!session.IsCompleted)
            {
                if (session.TryTake(out object? item, TimeSpan.FromMilliseconds(100), timeout.Token))
                {
                    switch (item)
                    {
                        case OpenEvent open:
                            events.Add(open);
                            break;
                        case GadgetException failure:
                            throw failure;
                    }
                }
            }
        });

        await session.Attached.WaitAsync(timeout.Token);
        using (Process shell = Process.Start(new ProcessStartInfo(_shell) { ArgumentList = { "-c", script } })!)
        {
            await shell.WaitForExitAsync(timeout.Token);
        }

        await reading;
        return (events, session.Statistics ?? throw new InvalidOperationException("No counters."));
    }
}
