// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title A devnet stand-in for Ethereum's USDT that keeps the quirks a driver must survive.
/// @notice Not for production: 6 decimals, transfer/transferFrom return nothing, an optional
/// fee that turns one transfer into two Transfer logs, an owner-only mint, blacklist and pause.
contract TestTether {
    string public constant name = "Tether USD (devnet)";
    string public constant symbol = "USDT";
    uint8 public constant decimals = 6;
    uint256 public constant MAX_FEE_BASIS_POINTS = 20;

    address public owner;
    bool public paused;
    uint256 public basisPointsRate;
    uint256 public totalSupply;

    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;
    mapping(address => bool) public isBlackListed;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);
    event Pause();
    event Unpause();
    event AddedBlackList(address indexed user);
    event RemovedBlackList(address indexed user);
    event FeeChanged(uint256 basisPoints);

    modifier onlyOwner() {
        require(msg.sender == owner, "not owner");
        _;
    }

    modifier whenNotPaused() {
        require(!paused, "paused");
        _;
    }

    constructor() {
        owner = msg.sender;
    }

    /// @dev Deliberately returns nothing, like the mainnet contract.
    function transfer(address to, uint256 value) external whenNotPaused {
        _move(msg.sender, to, value);
    }

    /// @dev Deliberately returns nothing, like the mainnet contract.
    function transferFrom(address from, address to, uint256 value) external whenNotPaused {
        uint256 allowed = allowance[from][msg.sender];
        require(allowed >= value, "allowance");
        if (allowed != type(uint256).max) {
            allowance[from][msg.sender] = allowed - value;
        }
        _move(from, to, value);
    }

    /// @dev One transaction paying several recipients, one Transfer log each, as exchanges
    /// and payroll tools batch their withdrawals.
    function transferMany(address[] calldata to, uint256[] calldata values)
        external
        whenNotPaused
    {
        require(to.length == values.length, "lengths");
        for (uint256 i = 0; i < to.length; i++) {
            _move(msg.sender, to[i], values[i]);
        }
    }

    function approve(address spender, uint256 value) external {
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
    }

    function mint(address to, uint256 value) external onlyOwner {
        require(to != address(0), "zero address");
        totalSupply += value;
        balanceOf[to] += value;
        emit Transfer(address(0), to, value);
    }

    function setFee(uint256 basisPoints) external onlyOwner {
        require(basisPoints <= MAX_FEE_BASIS_POINTS, "fee too high");
        basisPointsRate = basisPoints;
        emit FeeChanged(basisPoints);
    }

    function pause() external onlyOwner {
        paused = true;
        emit Pause();
    }

    function unpause() external onlyOwner {
        paused = false;
        emit Unpause();
    }

    function addBlackList(address user) external onlyOwner {
        isBlackListed[user] = true;
        emit AddedBlackList(user);
    }

    function removeBlackList(address user) external onlyOwner {
        isBlackListed[user] = false;
        emit RemovedBlackList(user);
    }

    function _move(address from, address to, uint256 value) private {
        require(!isBlackListed[from], "blacklisted");
        require(to != address(0), "zero address");
        require(balanceOf[from] >= value, "balance");
        uint256 fee = (value * basisPointsRate) / 10000;
        uint256 sent = value - fee;
        balanceOf[from] -= value;
        balanceOf[to] += sent;
        emit Transfer(from, to, sent);
        if (fee > 0) {
            // the fee leg is its own Transfer log, so one call yields two logs
            balanceOf[owner] += fee;
            emit Transfer(from, owner, fee);
        }
    }
}
