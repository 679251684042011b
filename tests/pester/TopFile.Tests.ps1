#Requires -Version 7.6
# Get-GadgetTopFile through one shared agent (started here on a private socket): a python3 writes a
# file of the test's own a known number of times and reads it back, again and again.
param([string] $ModulePath = $env:GADGET_MODULE_PATH)

BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Gadget.TestHelpers.ps1')
    $script:SkipKernel = -not (Test-KernelTracing)
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Gadget.TestHelpers.ps1')
    Import-Module (Join-Path $ModulePath 'Gadget.psd1') -Force
    if (Test-KernelTracing) {
        $script:Agent = Start-TestAgent -ModulePath $ModulePath
        $script:PreviousSocket = $env:GADGET_AGENT_SOCKET
        $env:GADGET_AGENT_SOCKET = $Agent.Socket
    }

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
    $env:GADGET_AGENT_SOCKET = $script:PreviousSocket
    Stop-TestAgent $script:Agent
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
