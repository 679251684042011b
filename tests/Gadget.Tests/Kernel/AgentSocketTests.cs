using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using Xunit;

namespace Gadget.Tests.Kernel;

/// <summary>What the agent does with its --socket path: never destroys a file, never opens the socket to others, fails with a message.</summary>
[Collection(KernelTests.Name)]
public sealed class AgentSocketTests
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    [KernelFact]
    public void ARegularFileAtTheSocketPathIsKeptAndRefused()
    {
        string directory = Directory.CreateTempSubdirectory("gadget-sock-").FullName;
        try
        {
            string path = Path.Combine(directory, "precious");
            File.WriteAllText(path, "keep me");

            (int exitCode, string output) = RunAgent("--socket", path);

            Assert.Equal(1, exitCode);
            Assert.Contains("is not a socket", output, StringComparison.Ordinal);
            Assert.Equal("keep me", File.ReadAllText(path));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [KernelFact]
    public void ADirectoryAtTheSocketPathIsRefused()
    {
        string directory = Directory.CreateTempSubdirectory("gadget-sock-").FullName;
        try
        {
            (int exitCode, string output) = RunAgent("--socket", directory);

            Assert.Equal(1, exitCode);
            Assert.Contains("is a directory", output, StringComparison.Ordinal);
            Assert.True(Directory.Exists(directory));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [KernelFact]
    public void AFullSocketDirectoryIsAnErrorThatNamesEnospc()
    {
        // A tmpfs with no inode left: binding a socket there fails as on a full /run.
        string mountPoint = Directory.CreateTempSubdirectory("gadget-full-").FullName;
        Run("mount", "-t", "tmpfs", "-o", "size=1m,nr_inodes=4", "gadget-full", mountPoint);
        try
        {
            for (int i = 0; ; i++)
            {
                try
                {
                    File.WriteAllText(Path.Combine(mountPoint, $"f{i}"), string.Empty);
                }
                catch (IOException)
                {
                    break;
                }
            }

            (int inPlace, string inPlaceOutput) = RunAgent("--socket", Path.Combine(mountPoint, "agent.sock"));
            (int inSubdirectory, string subdirectoryOutput) = RunAgent("--socket", Path.Combine(mountPoint, "run", "agent.sock"));

            Assert.Equal(1, inPlace); // not 134 (SIGABRT)
            Assert.Contains("ENOSPC", inPlaceOutput, StringComparison.Ordinal);
            Assert.Equal(1, inSubdirectory);
            Assert.Contains("ENOSPC", subdirectoryOutput, StringComparison.Ordinal);
        }
        finally
        {
            Run("umount", mountPoint);
            Directory.Delete(mountPoint, recursive: true);
        }
    }

    [KernelFact]
    public async Task UnderUmask000TheSocketIsNeverWiderThanRootOnly()
    {
        string directory = Directory.CreateTempSubdirectory("gadget-sock-").FullName;
        string socketPath = Path.Combine(directory, "agent.sock");
        File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
            UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        var start = new ProcessStartInfo("/bin/sh") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (string argument in new[] { "-c", "umask 000; exec \"$0\" \"$@\"", AgentProcess.ExecutablePath, "--socket", socketPath, "--parent-pid", Environment.ProcessId.ToString(CultureInfo.InvariantCulture) })
        {
            start.ArgumentList.Add(argument);
        }

        using Process agent = Process.Start(start)!;
        var modes = new HashSet<UnixFileMode>();
        try
        {
            // Look as often as the machine allows from before the socket exists until it serves.
            // The window between a bind and a chmod after it is too short to catch this way every
            // time, so the process's umask is checked too: it is what the bind creates the socket with.
            var clock = Stopwatch.StartNew();
            bool serving = false;
            while (!serving && !agent.HasExited && clock.Elapsed < TimeSpan.FromSeconds(20))
            {
                try
                {
                    modes.Add(File.GetUnixFileMode(socketPath));
                }
                catch (FileNotFoundException)
                {
                    continue;
                }

                serving = Accepts(socketPath);
            }

            Assert.True(serving, "the agent did not serve within 20 s");
            modes.Add(File.GetUnixFileMode(socketPath));
            Assert.All(modes, mode => Assert.Equal(UnixFileMode.None, mode & ~OwnerOnly));
            string umask = File.ReadLines($"/proc/{agent.Id}/status").Single(line => line.StartsWith("Umask:", StringComparison.Ordinal));
            Assert.Equal("0077", umask["Umask:".Length..].Trim());
        }
        finally
        {
            agent.Kill();
            await agent.WaitForExitAsync();
            Directory.Delete(directory, recursive: true);
        }
    }

    private static bool Accepts(string socketPath)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(socketPath));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static (int ExitCode, string Output) RunAgent(params string[] arguments)
    {
        var start = new ProcessStartInfo(AgentProcess.ExecutablePath) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using Process agent = Process.Start(start)!;
        Task<string> errors = agent.StandardError.ReadToEndAsync();
        string output = agent.StandardOutput.ReadToEnd();
        if (!agent.WaitForExit(TimeSpan.FromSeconds(20)))
        {
            agent.Kill();
            throw new TimeoutException($"gadget-agent {string.Join(' ', arguments)} still runs after 20 s.");
        }

        return (agent.ExitCode, output + errors.Result);
    }

    private static void Run(string file, params string[] arguments)
    {
        using Process process = Process.Start(file, arguments);
        process.WaitForExit();
        Assert.Equal(0, process.ExitCode);
    }
}
