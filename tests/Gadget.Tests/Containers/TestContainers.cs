using Gadget.Agent.Containers;

namespace Gadget.Tests.Containers;

/// <summary>Container records as the runc source reports them, for tests of what is done with them.</summary>
internal static class TestContainers
{
    /// <summary>A runc container whose init is pid 1 of its namespace, in <paramref name="cgroupPath"/>.</summary>
    public static ContainerRecord Runc(string id, ulong mountNs, string cgroupPath) => new()
    {
        Id = id,
        Name = id,
        Runtime = "runc",
        Pid = 1,
        MountNsId = mountNs,
        CgroupPath = cgroupPath,
    };
}
