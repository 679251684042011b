using System.Diagnostics;
using Gadget.Agent.Containers;
using Gadget.Agent.Runtime;
using Gadget.Protocol.V1;
using Gadget.Tests.Gadgets;

namespace Gadget.Tests.Kernel;

/// <summary>
/// A Python script run as a child, optionally in namespaces of its own (unshare -n, -m): the real
/// sockets, mounts and capability checks the tests trace. Python is Debian's python3, which the
/// build installs.
/// </summary>
internal static class PythonChild
{
    public const string Python = "/usr/bin/python3";

    /// <summary>Runs the script to its end; returns its pid and what it printed.</summary>
    public static (int Pid, string[] Output) Run(string script, string[] unshare, params string[] arguments)
    {
        var start = new ProcessStartInfo(unshare.Length > 0 ? "/usr/bin/unshare" : Python)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (string flag in unshare)
        {
            start.ArgumentList.Add(flag);
        }

        if (unshare.Length > 0)
        {
            // A new network namespace starts with its loopback down; unshare execs the shell, which execs Python: one pid throughout.
            start.ArgumentList.Add("/bin/sh");
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add((unshare.Contains("-n") ? "ip link set lo up && " : string.Empty) + "exec \"$0\" \"$@\"");
            start.ArgumentList.Add(Python);
        }

        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(script);
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(start) ?? throw new InvalidOperationException("Could not start python3.");
        Task<string> error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(30_000))
        {
            process.Kill();
            throw new TimeoutException("The python3 child did not end in 30 s.");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"python3 exited with {process.ExitCode}: {error.Result}");
        }

        return (process.Id, output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    public static TraceRun Start(string gadget, TraceRequest request)
    {
        request.Gadget = gadget;
        return TraceRun.Start(TestGadgets.Get(gadget), request, new TraceSettings(), new ContainerCollection());
    }
}
