#Requires -Version 7.6
# Get-GadgetTopFile through one shared agent (started here on a private socket): a python3 writes a
# file of the test's own a known number of times and reads it back, again and again; and two runc
# containers of one pod namespace do the same with busybox's shell, for enrichment and selection.
param([string] $ModulePath = $env:GADGET_MODULE_PATH)

BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Gadget.TestHelpers.ps1')
    $script:SkipKernel = -not (Test-KernelTracing)
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Gadget.TestHelpers.ps1')
    Import-Module (Join-Path $ModulePath 'Gadget.psd1') -Force
    $script:Agent = Enter-TestAgent -ModulePath $ModulePath

    $script:Scratch = New-TestDirectory 'gadget-topfile'
    $script:Counted = Join-Path $Scratch 'counted.txt'
    # Every 200 ms for 15 s: 5 writes of 100 bytes, then 5 reads of 100 bytes, unbuffered.
    $script:ScriptFile = Join-Path $Scratch 'files.py'
    Set-Content -Path $ScriptFile -Value @'
import os, sys, time
path = sys.argv[1]
time.sleep(1.5)
end = time.time() + 15
while time.time() < end:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    for _ in range(5): os.write(fd, b'w' * 100)
    os.close(fd)
    fd = os.open(path, os.O_RDONLY)
    for _ in range(5): os.read(fd, 100)
    os.close(fd)
    time.sleep(0.2)
'@
    $script:Ansi = '\x1b\[[0-9;]*m'
}

AfterAll {
    Exit-TestAgent $script:Agent
    Remove-Item $Scratch -Recurse -Force -ErrorAction Ignore
}

Describe 'Get-GadgetTopFile -Local' -Skip:$SkipKernel {
    BeforeAll {
        $child = Start-Process -FilePath python3 -ArgumentList @($ScriptFile, $Counted) -PassThru
        $script:ChildId = $child.Id
        $script:Rows = @(Get-GadgetTopFile -Local -Interval 2 -Count 3 -Pid $child.Id)
        $child.Kill()
        $child.WaitForExit()
    }

    It 'writes Gadget.TopFileRow objects with the path of the file' {
        $Rows.Count | Should -BeGreaterThan 0
        $Rows | ForEach-Object { $_ | Should -BeOfType ([Gadget.TopFileRow]) }
        $mine = @($Rows | Where-Object Path -eq $Counted)
        $mine.Count | Should -BeGreaterOrEqual 2
        $mine | ForEach-Object { $_.FileType | Should -Be 'Regular'; $_.Pid | Should -Be $ChildId; $_.Comm | Should -Match '^python' }
    }

    It 'counts the calls and bytes of every pass, 100 bytes a call' {
        foreach ($row in $Rows | Where-Object Path -eq $Counted) {
            $row.ReadBytes | Should -Be ($row.Reads * 100)
            $row.WriteBytes | Should -Be ($row.Writes * 100)
            $row.Writes | Should -BeGreaterOrEqual 5
        }
    }

    It 'renders as a table within 120 columns' {
        $lines = @(($Rows | Format-Table | Out-String -Width 120) -replace $Ansi -split "`r?`n" | Where-Object { $_.Trim() })
        $lines[0].TrimEnd() | Should -Match '^TIME\s+PID\s+COMM\s+READS\s+WRITES\s+RBYTES\s+WBYTES\s+T\s+FILE$'
        foreach ($line in $lines) { $line.TrimEnd().Length | Should -BeLessOrEqual 120 }
        ($lines | Where-Object { $_ -match '\bR\s+/' }).Count | Should -BeGreaterThan 0
    }
}

Describe 'Get-GadgetTopFile in real containers' -Skip:$SkipKernel {
    BeforeAll {
        # Two busybox-static containers run by runc alone (no containerd, nothing shared with other
        # users of this host), their bundles annotated as the kubelet labels pods topfile-ns/<name>.
        # Each writes a line to /tmp/counted (sh's builtin echo: one write) and reads it back with
        # the builtin read (a read a byte), five times a second. runc's own state directory is one
        # the agent scans, so it finds them as a kubelet's would be found through CRI-O.
        $script:Bundles = New-TestDirectory 'gadget-topfile-pods'

        function Start-TopPod {
            param([string] $Pod)
            Start-RuncPod -Directory $Bundles -Namespace topfile-ns -Pod $Pod `
                -Script 'while true; do echo counted > /tmp/counted; while read line; do :; done < /tmp/counted; sleep 0.2; done'
        }

        $script:Pods = @()
        $script:Pods += Start-TopPod 'topfile-a'
        $script:Pods += Start-TopPod 'topfile-b'
        $known = Wait-Condition { @(Get-GadgetContainer -Local -Namespace topfile-ns).Count -eq 2 } -Timeout '00:00:15' -IntervalMilliseconds 250
        $known | Should -BeTrue -Because 'the agent finds runc containers within seconds'
        $script:Both = @(Get-GadgetTopFile -Local -Namespace topfile-ns -Interval 2 -Count 2 -Top 0)
        $script:OnlyA = @(Get-GadgetTopFile -Local -Container topfile-a -Interval 2 -Count 2 -Top 0)
    }

    AfterAll {
        Stop-RuncPod $script:Pods
        Remove-Item $script:Bundles -Recurse -Force -ErrorAction Ignore
    }

    It 'gives each row the pod and container of the process, and the path inside the container' {
        $Both.Count | Should -BeGreaterThan 0
        @($Both.Pod | Sort-Object -Unique) | Should -Be @('topfile-a', 'topfile-b')
        foreach ($row in $Both) {
            $row.Namespace | Should -BeExactly 'topfile-ns'
            $row.Container | Should -BeExactly $row.Pod
            $row.Comm | Should -BeExactly 'sh'
            $row.MountNsId | Should -Not -Be 0
        }
        $mine = @($Both | Where-Object Path -eq '/tmp/counted')
        $mine.Count | Should -BeGreaterThan 1 -Because 'the file is named from the container''s root, not the host''s'
        foreach ($row in $mine) {
            $row.FileType | Should -Be 'Regular'
            $row.Writes | Should -BeGreaterThan 0
            $row.WriteBytes | Should -Be ($row.Writes * 8) -Because 'each echo writes "counted" and a newline'
            $row.Reads | Should -BeGreaterThan 0
        }
    }

    It '-Container selects that container''s processes only, in the kernel' {
        $OnlyA.Count | Should -BeGreaterThan 0
        foreach ($row in $OnlyA) {
            $row.Pod | Should -BeExactly 'topfile-a'
            $row.Container | Should -BeExactly 'topfile-a'
        }
        @($OnlyA | Where-Object Path -eq '/tmp/counted').Count | Should -BeGreaterThan 0
    }
}
