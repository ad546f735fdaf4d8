// detail::read_torch_zip (torch_unpickle.h says why).
#include "torch_unpickle.h"

#include <caffe2/serialize/inline_container.h>

#include <cstring>
#include <map>
#include <memory>

namespace selfsup::nets::detail {

namespace {

struct Value;
using Ptr = std::shared_ptr<Value>;

struct Value {
  enum class Kind { kNone, kBool, kInt, kFloat, kString, kTuple, kList, kDict, kGlobal, kStorage, kTensor };
  Kind kind = Kind::kNone;
  int64_t i = 0;
  double f = 0;
  std::string s;  // a string, or a global's "module.name"
  std::vector<Ptr> items;
  std::vector<std::pair<Ptr, Ptr>> entries;
  torch::Tensor tensor;  // a storage (1-D) or a tensor
};

Ptr make(Value::Kind k) {
  auto v = std::make_shared<Value>();
  v->kind = k;
  return v;
}

const char* kind_name(Value::Kind k) {
  switch (k) {
    case Value::Kind::kNone: return "None";
    case Value::Kind::kBool: return "bool";
    case Value::Kind::kInt: return "int";
    case Value::Kind::kFloat: return "float";
    case Value::Kind::kString: return "str";
    case Value::Kind::kTuple: return "tuple";
    case Value::Kind::kList: return "list";
    case Value::Kind::kDict: return "dict";
    case Value::Kind::kGlobal: return "class or function";
    case Value::Kind::kStorage: return "storage";
    case Value::Kind::kTensor: return "tensor";
  }
  return "?";
}

torch::ScalarType storage_dtype(const std::string& global, const std::string& path) {
  static const std::map<std::string, torch::ScalarType> types{
      {"torch.FloatStorage", torch::kFloat32}, {"torch.DoubleStorage", torch::kFloat64},
      {"torch.HalfStorage", torch::kFloat16},  {"torch.BFloat16Storage", torch::kBFloat16},
      {"torch.LongStorage", torch::kInt64},    {"torch.IntStorage", torch::kInt32},
      {"torch.ShortStorage", torch::kInt16},   {"torch.CharStorage", torch::kInt8},
      {"torch.ByteStorage", torch::kUInt8},    {"torch.BoolStorage", torch::kBool}};
  const auto it = types.find(global);
  TORCH_CHECK(it != types.end(), path, ": a storage of type ", global, ", which this reader does not take");
  return it->second;
}

class Unpickler {
 public:
  Unpickler(caffe2::serialize::PyTorchStreamReader& archive, std::string path) : archive_(archive), path_(std::move(path)) {
    auto [data, size] = archive_.getRecord("data.pkl");
    const auto* p = static_cast<const char*>(data.get());
    bytes_.assign(p, p + size);
  }

  Ptr run() {
    while (true) {
      const auto op = static_cast<uint8_t>(take(1)[0]);
      switch (op) {
        case 0x80: take(1); break;  // PROTO
        case 0x95: take(8); break;  // FRAME
        case 'c': {                 // GLOBAL
          auto v = make(Value::Kind::kGlobal);
          v->s = line();
          v->s += "." + line();
          push(v);
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          auto name = pop(), module = pop();
          auto v = make(Value::Kind::kGlobal);
          v->s = module->s + "." + name->s;
          push(v);
          break;
        }
        case 'q': memo_[u(1)] = top(); break;  // BINPUT
        case 'r': memo_[u(4)] = top(); break;  // LONG_BINPUT
        case 0x94: memo_[memo_.size()] = top(); break;  // MEMOIZE
        case 'h': push(get(u(1))); break;  // BINGET
        case 'j': push(get(u(4))); break;  // LONG_BINGET
        case ')': push(make(Value::Kind::kTuple)); break;
        case '}': push(make(Value::Kind::kDict)); break;
        case ']': push(make(Value::Kind::kList)); break;
        case '(': marks_.push_back(stack_.size()); break;
        case 't': push(sequence(Value::Kind::kTuple, pop_mark())); break;
        case 0x85: case 0x86: case 0x87: {  // TUPLE1, TUPLE2, TUPLE3
          const size_t n = op - 0x84u;
          TORCH_CHECK(stack_.size() >= n, path_, ": data.pkl is damaged (a tuple of missing items)");
          std::vector<Ptr> items(stack_.end() - static_cast<std::ptrdiff_t>(n), stack_.end());
          stack_.resize(stack_.size() - n);
          push(sequence(Value::Kind::kTuple, items));
          break;
        }
        case 'X': push(string(u(4))); break;     // BINUNICODE
        case 0x8c: push(string(u(1))); break;    // SHORT_BINUNICODE
        case 'T': push(string(u(4))); break;     // BINSTRING
        case 'U': push(string(u(1))); break;     // SHORT_BINSTRING
        case 'J': push(integer(static_cast<int32_t>(u(4)))); break;  // BININT
        case 'K': push(integer(u(1))); break;    // BININT1
        case 'M': push(integer(u(2))); break;    // BININT2
        case 0x8a: push(integer(long1())); break;  // LONG1
        case 'G': {                                 // BINFLOAT, big-endian
          const auto b = take(8);
          uint64_t bits = 0;
          for (int k = 0; k < 8; ++k) bits = (bits << 8) | static_cast<uint8_t>(b[k]);
          auto v = make(Value::Kind::kFloat);
          std::memcpy(&v->f, &bits, 8);
          push(v);
          break;
        }
        case 0x88: case 0x89: {  // NEWTRUE, NEWFALSE
          auto v = make(Value::Kind::kBool);
          v->i = op == 0x88;
          push(v);
          break;
        }
        case 'N': push(make(Value::Kind::kNone)); break;
        case 'Q': push(storage(pop())); break;  // BINPERSID
        case 'R': {                              // REDUCE
          auto args = pop(), fn = pop();
          push(reduce(fn, args));
          break;
        }
        case 'b': {  // BUILD: an OrderedDict's state (its _metadata) is not needed
          pop();
          TORCH_CHECK(top()->kind == Value::Kind::kDict, path_, ": data.pkl sets the state of a ",
                      kind_name(top()->kind), ", which this reader does not take");
          break;
        }
        case 's': {  // SETITEM
          auto v = pop(), k = pop();
          dict_top()->entries.emplace_back(k, v);
          break;
        }
        case 'u': {  // SETITEMS
          auto items = pop_mark();
          TORCH_CHECK(items.size() % 2 == 0, path_, ": data.pkl is damaged (an odd SETITEMS)");
          auto d = dict_top();
          for (size_t k = 0; k < items.size(); k += 2) d->entries.emplace_back(items[k], items[k + 1]);
          break;
        }
        case 'a': {  // APPEND
          auto v = pop();
          list_top()->items.push_back(v);
          break;
        }
        case 'e': {  // APPENDS
          auto items = pop_mark();
          auto l = list_top();
          l->items.insert(l->items.end(), items.begin(), items.end());
          break;
        }
        case '.': return pop();  // STOP
        default:
          TORCH_CHECK(false, path_, ": data.pkl has pickle opcode ", static_cast<int>(op),
                      ", which a torch.save state dict does not use");
      }
    }
  }

 private:
  std::string take(size_t n) {
    TORCH_CHECK(pos_ + n <= bytes_.size(), path_, ": data.pkl is truncated");
    auto out = bytes_.substr(pos_, n);
    pos_ += n;
    return out;
  }
  uint32_t u(size_t n) {
    const auto b = take(n);
    uint32_t v = 0;
    for (size_t k = n; k-- > 0;) v = (v << 8) | static_cast<uint8_t>(b[k]);
    return v;
  }
  int64_t long1() {
    const size_t n = u(1);
    TORCH_CHECK(n <= 8, path_, ": an integer of ", n, " bytes in data.pkl");
    const auto b = take(n);
    uint64_t v = 0;
    for (size_t k = n; k-- > 0;) v = (v << 8) | static_cast<uint8_t>(b[k]);
    if (n > 0 && n < 8 && (static_cast<uint8_t>(b[n - 1]) & 0x80)) v |= ~uint64_t{0} << (8 * n);  // sign
    return static_cast<int64_t>(v);
  }
  std::string line() {
    const auto end = bytes_.find('\n', pos_);
    TORCH_CHECK(end != std::string::npos, path_, ": data.pkl is truncated");
    auto out = bytes_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return out;
  }
  Ptr string(size_t n) {
    auto v = make(Value::Kind::kString);
    v->s = take(n);
    return v;
  }
  Ptr integer(int64_t x) {
    auto v = make(Value::Kind::kInt);
    v->i = x;
    return v;
  }
  static Ptr sequence(Value::Kind k, std::vector<Ptr> items) {
    auto v = make(k);
    v->items = std::move(items);
    return v;
  }
  void push(Ptr v) { stack_.push_back(std::move(v)); }
  Ptr top() {
    TORCH_CHECK(!stack_.empty(), path_, ": data.pkl is damaged (an empty stack)");
    return stack_.back();
  }
  Ptr pop() {
    auto v = top();
    stack_.pop_back();
    return v;
  }
  Ptr get(uint32_t k) {
    const auto it = memo_.find(k);
    TORCH_CHECK(it != memo_.end(), path_, ": data.pkl is damaged (memo ", k, " unset)");
    return it->second;
  }
  std::vector<Ptr> pop_mark() {
    TORCH_CHECK(!marks_.empty() && marks_.back() <= stack_.size(), path_, ": data.pkl is damaged (no mark)");
    const auto m = marks_.back();
    marks_.pop_back();
    std::vector<Ptr> items(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return items;
  }
  Ptr dict_top() {
    auto d = top();
    TORCH_CHECK(d->kind == Value::Kind::kDict, path_, ": data.pkl sets an item of a ", kind_name(d->kind));
    return d;
  }
  Ptr list_top() {
    auto l = top();
    TORCH_CHECK(l->kind == Value::Kind::kList, path_, ": data.pkl appends to a ", kind_name(l->kind));
    return l;
  }

  // ('storage', storage type, key, location, numel): the archive's record data/<key>.
  Ptr storage(const Ptr& pid) {
    const auto& t = pid->items;
    TORCH_CHECK(pid->kind == Value::Kind::kTuple && t.size() >= 5 && t[0]->s == "storage" &&
                    t[1]->kind == Value::Kind::kGlobal && t[2]->kind == Value::Kind::kString &&
                    t[4]->kind == Value::Kind::kInt,
                path_, ": data.pkl names a persistent object that is not a storage");
    const auto& key = t[2]->s;
    auto& cached = storages_[key];
    if (!cached) {
      const auto dtype = storage_dtype(t[1]->s, path_);
      const int64_t numel = t[4]->i;
      const std::string record = "data/" + key;
      TORCH_CHECK(numel >= 0 && archive_.hasRecord(record), path_, ": the storage ", record, " is missing");
      auto [data, size] = archive_.getRecord(record);
      auto s = torch::empty({numel}, torch::TensorOptions().dtype(dtype));
      const size_t bytes = static_cast<size_t>(numel) * s.element_size();
      TORCH_CHECK(size >= bytes, path_, ": the storage ", record, " holds ", size, " bytes for ", numel, " values of ",
                  dtype, " (a truncated file)");
      if (bytes > 0) std::memcpy(s.data_ptr(), data.get(), bytes);
      cached = make(Value::Kind::kStorage);
      cached->tensor = s;
    }
    return cached;
  }

  std::vector<int64_t> ints(const Ptr& tuple, const char* what) {
    TORCH_CHECK(tuple->kind == Value::Kind::kTuple, path_, ": a tensor's ", what, " is not a tuple");
    std::vector<int64_t> out;
    for (const auto& x : tuple->items) {
      TORCH_CHECK(x->kind == Value::Kind::kInt, path_, ": a tensor's ", what, " holds a ", kind_name(x->kind));
      out.push_back(x->i);
    }
    return out;
  }

  Ptr reduce(const Ptr& fn, const Ptr& args) {
    TORCH_CHECK(fn->kind == Value::Kind::kGlobal && args->kind == Value::Kind::kTuple, path_,
                ": data.pkl calls a ", kind_name(fn->kind), ", which this reader does not take");
    const auto& a = args->items;
    if (fn->s == "collections.OrderedDict") return make(Value::Kind::kDict);
    // LibTorch's pickler (torch::pickle_save) tags a typed dict with its type: the dict is the value.
    if (fn->s == "torch.jit._pickle.restore_type_tag" && !a.empty()) return a[0];
    if (fn->s == "torch._utils._rebuild_parameter" && !a.empty() && a[0]->kind == Value::Kind::kTensor) return a[0];
    TORCH_CHECK(fn->s == "torch._utils._rebuild_tensor_v2", path_, ": data.pkl builds a ", fn->s,
                ", which a state dict of tensors does not hold");
    TORCH_CHECK(a.size() >= 4 && a[0]->kind == Value::Kind::kStorage && a[1]->kind == Value::Kind::kInt, path_,
                ": a tensor in data.pkl has the wrong arguments");
    const auto& storage = a[0]->tensor;
    const auto size = ints(a[2], "size"), stride = ints(a[3], "stride");
    TORCH_CHECK(size.size() == stride.size(), path_, ": a tensor's size and stride differ in length");
    int64_t last = a[1]->i, numel = 1;
    for (size_t d = 0; d < size.size(); ++d) {
      TORCH_CHECK(size[d] >= 0 && stride[d] >= 0, path_, ": a tensor with a negative size or stride");
      numel *= size[d];
      last += size[d] > 0 ? (size[d] - 1) * stride[d] : 0;
    }
    TORCH_CHECK(a[1]->i >= 0 && (numel == 0 || last < storage.numel()), path_,
                ": a tensor reaches past its storage (a damaged file)");
    auto v = make(Value::Kind::kTensor);
    v->tensor = storage.as_strided(size, stride, a[1]->i).clone(at::MemoryFormat::Contiguous);
    return v;
  }

  caffe2::serialize::PyTorchStreamReader& archive_;
  std::string path_;
  std::string bytes_;
  size_t pos_ = 0;
  std::vector<Ptr> stack_;
  std::vector<size_t> marks_;
  std::map<uint32_t, Ptr> memo_;
  std::map<std::string, Ptr> storages_;
};

}  // namespace

StateDict read_torch_zip(const std::string& path) {
  Ptr root;
  try {
    caffe2::serialize::PyTorchStreamReader archive(path);
    TORCH_CHECK(archive.hasRecord("data.pkl"), path, ": a zip archive without data.pkl, not a torch.save file");
    root = Unpickler(archive, path).run();
  } catch (const c10::Error& e) {
    const std::string msg = e.what_without_backtrace();
    // The archive reader's own errors do not name the file.
    TORCH_CHECK(msg.rfind(path, 0) == 0, path, ": not a readable torch.save archive (", msg.substr(0, msg.find('\n')),
                ")");
    throw;
  }
  TORCH_CHECK(root->kind == Value::Kind::kDict, path, ": a torch.save file of a ", kind_name(root->kind),
              ", not a state dict (a dict of tensors)");
  StateDict out;
  for (const auto& [k, v] : root->entries) {
    TORCH_CHECK(k->kind == Value::Kind::kString, path, ": a state dict key that is a ", kind_name(k->kind));
    TORCH_CHECK(v->kind == Value::Kind::kTensor, path, ": entry '", k->s, "' is a ", kind_name(v->kind),
                ", not a tensor (save the model's state_dict(), not a checkpoint holding it)");
    out.emplace_back(k->s, v->tensor);
  }
  return out;
}

}  // namespace selfsup::nets::detail
