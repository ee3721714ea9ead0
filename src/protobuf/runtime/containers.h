// Field containers of generated messages, with the libprotobuf names the
// project's code uses: RepeatedField<T> (numbers, enums), RepeatedPtrField<T>
// (strings, messages: elements keep their address while the field grows, as
// in libprotobuf), Map<K, V> (ordered by key, so serialization is
// deterministic - libprotobuf's deterministic order), and Owned<T>, the
// deep-copying holder of a singular message field (null = not set).
#pragma once

#include <cstddef>
#include <iterator>
#include <map>
#include <memory>
#include <utility>
#include <vector>

namespace hcsshim::pbrt {

template <typename T>
class RepeatedField {
 public:
  using value_type = T;
  using iterator = typename std::vector<T>::iterator;
  using const_iterator = typename std::vector<T>::const_iterator;

  int size() const { return static_cast<int>(v_.size()); }
  bool empty() const { return v_.empty(); }
  const T& Get(int i) const { return v_.at(static_cast<size_t>(i)); }
  T* Mutable(int i) { return &v_.at(static_cast<size_t>(i)); }
  void Set(int i, T value) { v_.at(static_cast<size_t>(i)) = value; }
  void Add(T value) { v_.push_back(value); }
  void Clear() { v_.clear(); }
  void RemoveLast() { v_.pop_back(); }
  void Reserve(int n) { v_.reserve(static_cast<size_t>(n)); }
  const T& operator[](int i) const { return Get(i); }
  T& operator[](int i) { return *Mutable(i); }
  iterator begin() { return v_.begin(); }
  iterator end() { return v_.end(); }
  const_iterator begin() const { return v_.begin(); }
  const_iterator end() const { return v_.end(); }

 private:
  std::vector<T> v_;
};

template <typename T>
class RepeatedPtrField {
  template <typename Elem, typename Base>
  class Iter {
   public:
    using iterator_category = std::random_access_iterator_tag;
    using value_type = std::remove_const_t<Elem>;
    using difference_type = std::ptrdiff_t;
    using pointer = Elem*;
    using reference = Elem&;
    Iter() = default;
    explicit Iter(Base it) : it_(it) {}
    reference operator*() const { return **it_; }
    pointer operator->() const { return it_->get(); }
    Iter& operator++() { ++it_; return *this; }
    Iter operator++(int) { Iter t = *this; ++it_; return t; }
    Iter& operator--() { --it_; return *this; }
    Iter operator+(difference_type n) const { return Iter(it_ + n); }
    Iter operator-(difference_type n) const { return Iter(it_ - n); }
    difference_type operator-(const Iter& o) const { return it_ - o.it_; }
    bool operator==(const Iter& o) const { return it_ == o.it_; }
    bool operator!=(const Iter& o) const { return it_ != o.it_; }

   private:
    Base it_{};
  };
  using Slots = std::vector<std::unique_ptr<T>>;

 public:
  using value_type = T;
  using iterator = Iter<T, typename Slots::iterator>;
  using const_iterator = Iter<const T, typename Slots::const_iterator>;

  RepeatedPtrField() = default;
  RepeatedPtrField(const RepeatedPtrField& o) { *this = o; }
  RepeatedPtrField(RepeatedPtrField&&) noexcept = default;
  RepeatedPtrField& operator=(const RepeatedPtrField& o) {
    if (this == &o) return *this;
    Slots copy;
    copy.reserve(o.v_.size());
    for (const auto& e : o.v_) copy.push_back(std::make_unique<T>(*e));
    v_ = std::move(copy);
    return *this;
  }
  RepeatedPtrField& operator=(RepeatedPtrField&&) noexcept = default;

  int size() const { return static_cast<int>(v_.size()); }
  bool empty() const { return v_.empty(); }
  const T& Get(int i) const { return *v_.at(static_cast<size_t>(i)); }
  T* Mutable(int i) { return v_.at(static_cast<size_t>(i)).get(); }
  T* Add() { return v_.emplace_back(std::make_unique<T>()).get(); }
  void Add(T value) { *Add() = std::move(value); }
  void Clear() { v_.clear(); }
  void RemoveLast() { v_.pop_back(); }
  void Reserve(int n) { v_.reserve(static_cast<size_t>(n)); }
  void CopyFrom(const RepeatedPtrField& o) { *this = o; }
  void MergeFrom(const RepeatedPtrField& o) {
    for (const auto& e : o.v_) v_.push_back(std::make_unique<T>(*e));
  }
  void Swap(RepeatedPtrField* o) { v_.swap(o->v_); }
  const T& operator[](int i) const { return Get(i); }
  T& operator[](int i) { return *Mutable(i); }
  iterator begin() { return iterator(v_.begin()); }
  iterator end() { return iterator(v_.end()); }
  const_iterator begin() const { return const_iterator(v_.begin()); }
  const_iterator end() const { return const_iterator(v_.end()); }

 private:
  Slots v_;
};

template <typename K, typename V>
using Map = std::map<K, V>;

template <typename T>
class Owned {
 public:
  Owned() = default;
  Owned(const Owned& o) : p_(o.p_ ? std::make_unique<T>(*o.p_) : nullptr) {}
  Owned(Owned&&) noexcept = default;
  Owned& operator=(const Owned& o) {
    if (this != &o) p_ = o.p_ ? std::make_unique<T>(*o.p_) : nullptr;
    return *this;
  }
  Owned& operator=(Owned&&) noexcept = default;

  const T* get() const { return p_.get(); }
  T* mutableGet() {
    if (!p_) p_ = std::make_unique<T>();
    return p_.get();
  }
  void reset(T* p = nullptr) { p_.reset(p); }
  T* release() { return p_.release(); }

 private:
  std::unique_ptr<T> p_;
};

}  // namespace hcsshim::pbrt
