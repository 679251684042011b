using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Gadget.Tests.Kernel;

/// <summary>
/// Which BPF programs the kernel has loaded. Other processes on the host may load programs of the
/// same name, so a test follows program ids, and learns which are its own from this process's
/// file descriptors.
/// </summary>
internal static class LoadedPrograms
{
    /// <summary>Ids of the loaded programs named <paramref name="name"/>, as <c>bpftool prog show</c> lists them.</summary>
    public static HashSet<int> Named(string name)
    {
        var start = new ProcessStartInfo("bpftool") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in (string[])["prog", "show", "--json"])
        {
            start.ArgumentList.Add(argument);
        }

        using Process bpftool = Process.Start(start) ?? throw new InvalidOperationException("Could not start bpftool.");
        Task<string> output = bpftool.StandardOutput.ReadToEndAsync();
        HostProcess.WaitForExit(bpftool);
        if (bpftool.ExitCode != 0)
        {
            throw new InvalidOperationException($"bpftool prog show failed ({bpftool.ExitCode}): {bpftool.StandardError.ReadToEnd()}");
        }

        using JsonDocument programs = JsonDocument.Parse(output.Result);
        return programs.RootElement.EnumerateArray()
            .Where(p => p.TryGetProperty("name", out JsonElement n) && n.GetString() == name)
            .Select(p => p.GetProperty("id").GetInt32())
            .ToHashSet();
    }

    /// <summary>Ids of the programs this process holds a file descriptor of (from /proc/self/fdinfo).</summary>
    public static HashSet<int> HeldByThisProcess()
    {
        var ids = new HashSet<int>();
        foreach (string fdinfo in Directory.EnumerateFiles("/proc/self/fdinfo"))
        {
            string[] lines;
            try
            {
                lines = File.ReadAllLines(fdinfo);
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
            {
                continue; // closed while we looked
            }

            foreach (string line in lines)
            {
                if (line.StartsWith("prog_id:", StringComparison.Ordinal))
                {
                    ids.Add(int.Parse(line["prog_id:".Length..].Trim(), CultureInfo.InvariantCulture));
                }
            }
        }

        return ids;
    }
}
